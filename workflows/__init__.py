"""UnionFlow's workflow engine: definitions, validation and a pure step function.

Nothing in this package imports Flask, SQLAlchemy, RQ or ``webapp``; the web layer
adapts it to the database. See ``docs/definitions.md`` for the definition format.

Modules, one concept each:

* ``loader`` — read and validate definition files; ``spec_digest`` for versions
* ``spec`` — the frozen, parsed definition (``ProcessSpec``, ``StepSpec``, …)
* ``fields`` / ``values`` — field specifications and checking submitted values
* ``expr`` — the whitelisted condition language
* ``rules`` — who may act: approvers, assignees, pools, and the units they refer to
* ``kinds`` — the registry of step kinds (task, approval, decision, claim, reserve,
  timer, publicity)
* ``engine`` — ``start``/``act``/``available_actions``; ``actions`` and ``runtime``
  are its insides
* ``state`` / ``effects`` — instance state and effects as plain, storable data
* ``directory`` — the Protocol the web layer implements; ``memory`` — an in-memory one
* ``durations`` — "2d", "3wd" and working-day arithmetic
* ``diagram`` — the SVG picture of a definition
* ``errors`` / ``problems`` — typed runtime errors; definition problems
"""
