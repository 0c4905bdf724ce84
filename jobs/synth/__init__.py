"""A synthetic city (合成城市): realistic, messy department exports with a ground-truth manifest.

Real department data cannot leave a government network, so demos, tests and benchmarks run on a
generated county that behaves like a real one.

* :mod:`~jobs.synth.world` builds one consistent world on the first delivery day from
  :mod:`~jobs.synth.population` (persons in households, with IDs valid in their birth year,
  :mod:`~jobs.synth.regions`), :mod:`~jobs.synth.land` (parcels, units, standard addresses) and
  :mod:`~jobs.synth.entities` (enterprises, social organisations); :mod:`~jobs.synth.events`
  moves it forward between deliveries.
* :mod:`~jobs.synth.resources` says what each department's export shows of that world;
  :mod:`~jobs.synth.render` writes it in the department's shape, from the catalog;
  :mod:`~jobs.synth.exporters` writes the files (CSV, JSON lines, XLSX, GeoJSON).
* :mod:`~jobs.synth.kinds` lists every defect kind and its expected outcome;
  :mod:`~jobs.synth.defects` damages rows, :mod:`~jobs.synth.generate` damages files, and
  :mod:`~jobs.synth.manifest` / :mod:`~jobs.synth.truth` record the ground truth so the
  pipeline's detection can be measured rather than eyeballed.
* ``govlake synth`` (:mod:`~jobs.synth.commands`) runs it; :mod:`~jobs.synth.config` holds
  the settings.
"""
