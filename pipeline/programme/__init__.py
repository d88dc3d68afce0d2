"""Programmes (考核方案): configuration, periods, signatures — the ground floor."""

from .config import FieldSpec, Programme, RegisterSpec, Rule, load_programme
from .periods import Month

__all__ = ["FieldSpec", "Month", "Programme", "RegisterSpec", "Rule", "load_programme"]
