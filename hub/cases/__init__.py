"""Cases: alerts joined into incidents, dispatched to a team, supervised until done.

Pure rules: ``rules`` (lifecycle and resolution codes), ``correlation`` (which incident an
alert belongs to), ``dispatch`` (who a case goes to), ``supervision`` (deadlines and
escalation), ``notify`` (what a notice says, retry times). Repositories: ``intake`` (alerts
into cases), ``repository`` (reading cases and people's actions on them), ``deadlines``,
``notices``. ``changes`` is the one path every committed case change takes out of the
process; ``routes``, ``supervisor``, ``notifier`` and ``tasks`` are the shells.
"""
