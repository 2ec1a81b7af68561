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
