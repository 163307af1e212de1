"""Placeholder: this page is being built."""

import streamlit as st

st.title("profiler")
st.info("This page is under construction.")
