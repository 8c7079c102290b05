"""Documents for the tests of `reconciler profiles` and `reconciler links` (no tests here).

Every account lists its roles: an account carries exactly its own `roles` and its unit's.
"""

from __future__ import annotations

from pathlib import Path

# Source account 999999999999; every account has an id. Each user's groups grant something
# different; `sandbox` is granted to nobody.
ACCESS = """\
organization:
  management_account_id: "111111111111"

access:
  source_account_id: "999999999999"
  roles:
    - name: AccountAccessRole
      policies: [arn:aws:iam::aws:policy/AdministratorAccess]
    - name: ReadOnlyAccessRole
      policies: [arn:aws:iam::aws:policy/ReadOnlyAccess]

accounts:
  - name: acme-dev
    id: "222222222222"
    email: aws+acme-dev@example.com
    roles: [AccountAccessRole, ReadOnlyAccessRole]
  - name: acme-prod
    id: "333333333333"
    email: aws+acme-prod@example.com
    roles: [ReadOnlyAccessRole]
  - name: sandbox
    id: "444444444444"
    email: aws+sandbox@example.com
    roles: [AccountAccessRole]

groups:
  - name: Administrators
    users: [alice]
    grants:
      - {account: acme-dev, role: AccountAccessRole}
  - name: Auditors
    users: [bob, alice]
    grants:
      - {account: acme-prod, role: ReadOnlyAccessRole}
  - name: Contractors
    users: [carol]
    grants:
      - {account: acme-dev, role: ReadOnlyAccessRole}
"""

# One granted account is still to be created: it has no id yet. No source account: the
# management account is the source.
UNCREATED = """\
organization:
  management_account_id: "111111111111"

access:
  roles:
    - name: AccountAccessRole
      policies: [arn:aws:iam::aws:policy/AdministratorAccess]

accounts:
  - name: existing
    id: "222222222222"
    email: aws+existing@example.com
    roles: [AccountAccessRole]
  - name: newcomer
    email: aws+newcomer@example.com
    roles: [AccountAccessRole]

groups:
  - name: Administrators
    users: [alice]
    grants:
      - {account: existing, role: AccountAccessRole}
      - {account: newcomer, role: AccountAccessRole}
"""


def write(directory: Path, text: str, name: str = "accounts.yaml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path
