"""The pure core: vocabulary, facts, rules and verdicts. Standard library only."""
