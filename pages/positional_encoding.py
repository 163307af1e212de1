"""Placeholder: this page is being built."""

import streamlit as st

st.title("positional_encoding")
st.info("This page is under construction.")
