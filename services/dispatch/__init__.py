"""Dispatch: technician routing (OR-Tools) and scheduling."""
