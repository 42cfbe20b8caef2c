"""Built-in tasks made by a program, offline: prompts, a reward and revisers (`figa compare --task`)."""
