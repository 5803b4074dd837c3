"""The vLLM side: generation requests, the engine wrapper, its weight reload extension,
where engines are placed, and putting them to sleep while the trainer uses their GPU."""
