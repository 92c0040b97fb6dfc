"""Training stage: continued pretraining, GRPO and evaluation (DESIGN.md section 6)."""
