"""swiftkit: a thin, careful layer over the ms-swift command line for identity LoRA runs."""

__version__ = "0.1.0"
