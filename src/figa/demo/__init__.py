"""`figa demo`: FIGA vs SFT on a constraint-following task with a small real model, offline."""
