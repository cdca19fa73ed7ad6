"""repo-sign: build, sign and serve TUF repositories of Python distributions."""

__version__ = "0.1.0"
