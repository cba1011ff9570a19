"""Experiment files shipped with ppl_vae."""
