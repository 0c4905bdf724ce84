"""The department service (部门服务, DESIGN §9): the only door through which departments reach data.

The web app (:mod:`jobs.service.app`, ``govlake serve``) wires the rules: who is calling
(:mod:`jobs.service.ports`, :mod:`jobs.service.deps`, :mod:`jobs.service.security`), what they
may name (:mod:`jobs.service.inputs`), the JSON API and pages (:mod:`jobs.service.routes`) and
how errors look (:mod:`jobs.service.responses`). The data rules are plain functions, independent
of HTTP: governed reads (:mod:`jobs.service.reads`), what a read is sent as
(:mod:`jobs.service.formats`), 核验 without disclosure (:mod:`jobs.service.verify`) and their
refusals (:mod:`jobs.service.errors`).
"""
