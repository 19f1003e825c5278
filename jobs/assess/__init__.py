"""The sharing performance assessment (共享绩效考核): every catalog department scored per month
from `conf/assessment.yml`'s weights into lake.ops.share_assessment."""
