"""Integration: department pools → the four base databases (基础数据库).

Population (人口), legal entity (法人), natural resources and spatial geography (自然资源和空间地理:
parcels, real-estate units, standard addresses) and e-licence (电子证照), built by
:func:`jobs.integrate.build.build_bases` with survivorship per attribute (一数一源 first),
provenance, cross-links, conflicts and anomalies. Modules:

* :mod:`~jobs.integrate.config`: who a pool row speaks about, what each base keeps (schemas/bases);
* :mod:`~jobs.integrate.observations`: every department's value, kept;
* :mod:`~jobs.integrate.core_sql`, run in Spark's tasks by :mod:`~jobs.integrate.core`: the
  observations, survivorship (authority → recency → frequency, with provenance) and each base's
  members with their surviving attributes; :mod:`~jobs.integrate.survivorship`: the same rules
  as Spark transforms, which the tests hold the SQL to;
* :mod:`~jobs.integrate.population`, :mod:`~jobs.integrate.legal_entity`,
  :mod:`~jobs.integrate.spatial` (+ :mod:`~jobs.integrate.geometry`), :mod:`~jobs.integrate.e_licence`;
* :mod:`~jobs.integrate.links`: links between the bases;
* :mod:`~jobs.integrate.conflicts`, :mod:`~jobs.integrate.anomalies`, gathered by
  :mod:`~jobs.integrate.issues`: issues for verification;
* :mod:`~jobs.integrate.pipeline`: the whole integration on DataFrames;
  :mod:`~jobs.integrate.build`: the build on the lake; :mod:`~jobs.integrate.evaluate`: against
  a manifest.
"""
