"""Mutation testing of pdloss's maths, losses, metrics, degradations and checkpoint/resume code.

How much wrong code would the tests catch? For each module this tool makes small wrong versions
of it ("mutants": ``<`` for ``<=``, ``+`` for ``-``, a constant changed, an argument dropped, ...)
with mutmut 3, runs the tests that cover the module against each one, and counts the mutants the
tests reject ("killed"). It then applies hand-written mutants that mutmut cannot make, because it
only mutates code inside functions: module-level constants such as Wang's MS-SSIM weights or
NIQE's 96-pixel block, and the issue's own examples. Results go to ``docs/testing.md`` (a table
per module, every survivor with its diff, equivalent mutants with the reason) and, raw, to
``docs/results/mutation/*.json`` (one file per module, ``named.json`` for the hand-written
mutants; ``--render`` rebuilds the page from them).

The data (modules and their tests, equivalent mutants with reasons, hand-written mutants) lives
in ``targets.yaml``, ``equivalents.yaml`` and ``named.yaml`` beside this package's modules
(:mod:`tools.mutation.data`); ``--check`` compares it with the tree without running anything.

Nothing in the working tree is mutated: each module is measured in a copy under
``.mutation/<module>/`` (mutmut writes its mutants to ``.mutation/<module>/mutants/``), and the
hand-written mutants in ``.mutation/named/``. The copy is the working tree as it is when the run
starts (uncommitted edits included); ``docs/testing.md`` records each measured file's sha256 and
whether it equals ``HEAD``.

Long (minutes to an hour per module on 2 cores) and not part of CI. Run it niced from the
repository root, e.g.::

    nice -n 19 .venv/bin/python -m tools.mutation projections        # one module
    nice -n 19 .venv/bin/python -m tools.mutation --changed          # modules whose files differ from HEAD
    nice -n 19 .venv/bin/python -m tools.mutation --all              # everything (hours)
    .venv/bin/python -m tools.mutation --list                        # modules, files, tests
    .venv/bin/python -m tools.mutation --check                       # the data against the tree
    nice -n 19 .venv/bin/python -m tools.mutation --named-only ssim  # only the hand-written mutants

Then look at a survivor with ``cd .mutation/<module> && ../../.venv/bin/mutmut show NAME``.
Requires the ``dev`` extra (mutmut, hypothesis).
"""
