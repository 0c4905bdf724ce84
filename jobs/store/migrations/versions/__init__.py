"""One file per schema change, reversible; named NNNN_what.py."""
