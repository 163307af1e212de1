"""Lessons that ask before they show (Naps et al. 2003: responding beats viewing).

A lesson is a TOML file in ``lessons/``: a title and a list of steps, each with a link to a
view, a question (choices or a number to guess) and a reveal whose numbers are computed live
by a named function of :mod:`explorer.lessons.reveals` — never typed into the file, so a
lesson stays true after the model is retrained. :mod:`explorer.lessons.loader` reads and
checks the files; a bad file becomes a one-line message naming the file and line.
"""
