"""The constraint-following task of `figa demo` (`figa compare --task constraints`): prompts on topics with
constraints to follow (`task`), the constraint kinds with their checks and minimal fixes (`kinds`), and the quality
checks of an answer's content (`quality`)."""
