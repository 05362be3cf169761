"""Serving many visitors from one process (the app): per-visitor sessions with their folders and lifetimes, and
one memory budget for every decode."""
from .budget import BudgetTimeout, MemoryBudget
from .session import Session, SessionClosed, SessionFull, SessionStore

__all__ = ["BudgetTimeout", "MemoryBudget", "Session", "SessionClosed", "SessionFull", "SessionStore"]
