"""Preference pairs for the tests of objectives and of the pipeline's hooks."""

from toylab.tasks import Examples


def wrong_answers(ex, task):
    """The same prompts with every letter of the target moved one letter on (a wrong
    answer of the right form, for preference pairs)."""
    letters = [task.vocab.index[c] for c in "ABCDEFGH"]
    tokens = ex.tokens.copy()
    for row, p, n in zip(tokens, ex.prompt_len, ex.length):
        for i in range(p, n):
            if row[i] in letters:
                row[i] = letters[(letters.index(row[i]) + 1) % len(letters)]
    return Examples(tokens, ex.prompt_len.copy(), ex.length.copy(), ex.cells)

