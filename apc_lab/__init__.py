"""The lab beside the plugin: what makes the demo's and the docs' figures.

Generated data sets (``demo_data``, ``pretrain_data``, their drawing in
``appearance``), the demo ViT's pretraining (``pretrain``), demo runs and their
tables (``demo``), the ablations (``ablation``), the benchmark's timing and
projections (``profiling``) and the GPU check's log reading
(``training_log``). It imports the plugin, ``apc_mmseg``; the plugin never
imports it, so nothing here is needed to train, test or infer with APC.
"""
