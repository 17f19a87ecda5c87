"""Test vectors (placeholder until the vector generator lands)."""


def generate(spec) -> str:
    return "# vectors: not yet generated\n"
