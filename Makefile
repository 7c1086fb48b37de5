# fixtures: regenerate testdata/parity from PyTorch (see reference/README.md).
PYTHON ?= /usr/bin/python3

.PHONY: fixtures
fixtures:
	$(PYTHON) reference/reference.py fixtures
