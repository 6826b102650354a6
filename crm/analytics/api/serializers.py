"""Read shapes of the dashboard API (crm.analytics.selectors' figures as JSON)."""

from __future__ import annotations

from rest_framework import serializers

from crm.analytics.enums import Breakdown, FactKind, Period

MONEY = {"max_digits": 20, "decimal_places": 2}


class FigureSerializer(serializers.Serializer):
    amount = serializers.DecimalField(**MONEY)
    count = serializers.IntegerField()


class KindFiguresSerializer(serializers.Serializer):
    order = FigureSerializer(help_text="approved orders (total, tax included), by the day approved")
    shipment = FigureSerializer(help_text="the value of the goods shipped, by the shipment's day")
    collection = FigureSerializer(help_text="payments received, by the day received")


class KpiSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text=", ".join(FactKind.values))
    label = serializers.CharField()
    amount = serializers.DecimalField(**MONEY)
    count = serializers.IntegerField()
    previous_amount = serializers.DecimalField(**MONEY, help_text="the previous period, to the same point")
    previous_count = serializers.IntegerField()
    change_pct = serializers.DecimalField(max_digits=12, decimal_places=1, allow_null=True,
                                          help_text="amount against the previous period, in percent; "
                                                    "null when the previous period had none")


class SeriesRowSerializer(KindFiguresSerializer):
    key = serializers.CharField(allow_blank=True, help_text="2026-03 (by month), a region id or an owner id; "
                                                            "'' for none")
    label = serializers.CharField()


class CurrencyTotalsSerializer(KindFiguresSerializer):
    currency = serializers.CharField()


class SpanSerializer(serializers.Serializer):
    locals()["from"] = serializers.DateField()
    to = serializers.DateField(help_text="inclusive")


class DashboardSalesSerializer(serializers.Serializer):
    period = serializers.CharField(help_text=", ".join(Period.values))
    locals()["from"] = serializers.DateField()
    to = serializers.DateField(help_text="inclusive")
    by = serializers.CharField(help_text=", ".join(Breakdown.values))
    currency = serializers.CharField()
    previous = SpanSerializer(help_text="the period compared with")
    compared_to = serializers.DateField(help_text="the last day of this period that the comparison covers")
    kpis = KpiSerializer(many=True)
    series = SeriesRowSerializer(many=True)
    totals = KindFiguresSerializer()
    other_currencies = CurrencyTotalsSerializer(many=True, help_text="never added to the figures above")
    version = serializers.CharField(allow_null=True, help_text="changes when the figures may have changed")


class StageSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    probability = serializers.IntegerField()
    count = serializers.IntegerField()
    amount = serializers.DecimalField(**MONEY)
    weighted = serializers.DecimalField(**MONEY, help_text="amount × probability / 100")


class PipelineTotalSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    amount = serializers.DecimalField(**MONEY)
    weighted = serializers.DecimalField(**MONEY)


class DashboardPipelineSerializer(serializers.Serializer):
    pipeline = serializers.CharField(allow_null=True, help_text="the business mode whose stages these are")
    pipelines = serializers.ListField(child=serializers.CharField(), help_text="the tenant's pipelines")
    currency = serializers.CharField()
    stages = StageSerializer(many=True)
    total = PipelineTotalSerializer()
