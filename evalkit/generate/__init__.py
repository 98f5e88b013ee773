"""Generation backends behind one interface (see base.Generator) and the resumable runner."""

BACKENDS = ("transformers", "openai", "vllm", "vllm-server")
