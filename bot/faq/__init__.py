"""The FAQ knowledge base: schema and loader (kb), compiler (compiler) and checker (checker)."""
