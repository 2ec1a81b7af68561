from rest_framework.permissions import BasePermission


class IsPatient(BasePermission):
    message = "Only patient accounts can use this endpoint."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and getattr(user, "is_patient", False))


class IsPhysiotherapist(BasePermission):
    message = "Only physiotherapist accounts can use this endpoint."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and getattr(user, "is_physiotherapist", False))


class IsPatientOrPhysiotherapist(BasePermission):
    """Either role: for what both have, such as the devices that receive their notifications."""

    message = "Only patient and physiotherapist accounts can use this endpoint."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and (getattr(user, "is_patient", False) or getattr(user, "is_physiotherapist", False))
        )
