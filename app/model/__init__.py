"""The read-state core: plain frozen data and pure functions.

No nio, no textual, no I/O, no clock reads. Everything the UI shows about what is
read and unread is computed here, and most tests live against this package.
"""
