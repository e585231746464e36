"""pytest set-up shared by every test folder.

The test files are laid out like the package's subpackages; the brokers'
helper module ``kafkaBrokers`` lives here, beside this file, which pytest's
default import mode puts on ``sys.path`` for all of them.
"""
