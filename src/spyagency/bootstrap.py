"""The composition root: the only place where objects are built and wired together."""
