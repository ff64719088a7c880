"""SQLAlchemy models, one module per aggregate.  Importing this package registers them all."""
from webapp.models.org import OrgGeneration, OrgUnit, Pairing, Station  # noqa: F401
from webapp.models.users import Membership, User  # noqa: F401
from webapp.models.workflow import (CalendarDay, CapacityResource, DefinitionVersion,  # noqa: F401
                                    HistoryEntry, Instance, ProcessDefinition, Reservation,
                                    Submission, Task,
                                    TaskAssignee, Timer)
from webapp.models.notifications import (Delivery, Notification,  # noqa: F401,E402
                                         NotificationSettings, UnitWebhook)
from webapp.models.files import StoredFile  # noqa: F401,E402
from webapp.models.activities import (Attendance, Course, CourseSession,  # noqa: F401,E402
                                      DutySlot, RetreatBatch, RetreatQuota)
from webapp.models.tokens import ApiToken  # noqa: F401,E402
from webapp.models.audit import AuditEntry  # noqa: F401,E402
from webapp.models.reports import OpenDemandDay  # noqa: F401,E402
