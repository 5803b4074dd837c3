"""Size limits applied before any sympy work.

They exist because model output is untrusted: a power tower or a huge factorial
is a few characters of text but hours of CPU or gigabytes of memory once
evaluated. Everything past these limits is rejected as unparseable; whatever
slips through is stopped by the pool's kill timeout.
"""

# Longest prediction we read at all; the tail is kept because answers come last.
MAX_PREDICTION_CHARS = 100_000
# Longest single extracted answer handed to a parser.
MAX_ANSWER_CHARS = 1_000
# Deepest bracket nesting accepted in one answer.
MAX_NESTING = 16
# Most elements in a tuple / set / list answer.
MAX_ELEMENTS = 64
# Most sympy nodes in one parsed answer.
MAX_NODES = 2_000
# Largest magnitude (in bits) any exact intermediate value may reach: about
# 30,000 decimal digits, far beyond any real answer, far below a slow bignum.
MAX_BITS = 100_000
# Largest argument of a factorial / binomial we agree to evaluate.
MAX_FACTORIAL = 1_000
# Largest matrix side.
MAX_MATRIX_SIDE = 10
# Most digits in one number literal (Python's own int/str limit is 4,300).
MAX_DIGITS = 400
