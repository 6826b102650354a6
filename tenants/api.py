from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from .modes import MODES


class BusinessModeListApi(APIView):
    """The five business modes a company can choose at sign-up (public host)."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(tags=["public"])
    def get(self, request):
        return Response({"count": len(MODES), "results": [m.as_dict() for m in MODES.values()]})
