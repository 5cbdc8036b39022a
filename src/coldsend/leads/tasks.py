"""Background jobs of leads (registered with `kit.jobs.job_handler`).

`move-leads` moves or copies a selection of leads into a campaign or list (`leads.move.LeadMover`).
"""

from __future__ import annotations

from coldsend.kit.jobs import JobContext, job_handler
from coldsend.leads.move import MOVE_JOB, LeadMover


@job_handler(MOVE_JOB)
async def move_leads(ctx: JobContext) -> None:
    await LeadMover(ctx).run()
