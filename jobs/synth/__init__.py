"""A synthetic city (合成城市): realistic, messy department exports with a ground-truth manifest.

Real department data cannot leave a government network, so demos, tests and benchmarks run on a
generated county that behaves like a real one. :mod:`jobs.synth.world` builds one consistent
world (persons, households, enterprises, land, licences) and lets it evolve between delivery
batches; :mod:`jobs.synth.resources` shows that world through each department's export as the
catalog describes it; :mod:`jobs.synth.defects` damages the exports the way real exports are
damaged and records every defect in the manifest (:mod:`jobs.synth.manifest`), so the pipeline's
detection can be measured rather than eyeballed. :mod:`jobs.synth.generate` orchestrates it and
``govlake synth`` (:mod:`jobs.synth.commands`) runs it.
"""
