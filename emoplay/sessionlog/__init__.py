"""Encrypted, opt-in session logs: the file format, its writer and reader, study records, and the ``emoplay log`` commands."""
