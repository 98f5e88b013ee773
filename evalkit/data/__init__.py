"""Prompt sets: the built-in `dev` set, files (AlpacaEval, chat, plain) and Hugging Face datasets."""

from evalkit.data.loaders import load_prompt_set

__all__ = ["load_prompt_set"]
