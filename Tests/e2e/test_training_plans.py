"""Training plans and reserved capacity (issue #16, spec §17, R200–R231, RA12–RA15) with boto3 on a manual clock (fast
profile: T_payment = T_launch = T_term = 1 s; T_plan_drain = 30 min). The clock is set to T0, a UTC midnight two days
after the wall clock's day (a manual clock starts at the wall time and never goes back, so a fixed date would stop
working once it passed), so the first generated window opens at 11:30 UTC that day (R204)."""
import datetime
import time

import pytest

from conftest import make_client
from test_clusters import admin, group
from test_update_cluster import EKS_ARN, advance, error_of, groups_of, nodes, settle

DAY = 86400
T0 = (int(time.time()) // DAY + 2) * DAY
SLOT = T0 + 11 * 3600 + 1800  # 11:30 UTC on T0's day
P5 = "ml.p5.48xlarge"
ZONE_A_SUBNET, ZONE_B_SUBNET = "subnet-3", "subnet-0"  # R36's hash puts them in us-east-1a and us-east-1b
VPC_A = {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": [ZONE_A_SUBNET]}


@pytest.fixture
def tp(manual, sm):
    """The manual server with its clock at T0; tests drive it with `tp` (server) and `sm` (client)."""
    admin(manual, "/_hyperpod/clock", {"set": T0})
    return manual


def epoch(value):
    return value.timestamp() if isinstance(value, datetime.datetime) else value


def set_clock(server, when):
    admin(server, "/_hyperpod/clock", {"set": when})


def search(sm, count=4, hours=24, targets=("hyperpod-cluster",), **extra):
    request = {"InstanceType": P5, "InstanceCount": count, "DurationHours": hours, "TargetResources": list(targets)}
    request.update(extra)
    return sm.search_training_plan_offerings(**{k: v for k, v in request.items() if v is not None})["TrainingPlanOfferings"]


def buy(sm, server, name="plan-a", count=4, hours=24, paid=True, **extra):
    offering = search(sm, count=count, hours=hours, **extra)[0]
    arn = sm.create_training_plan(TrainingPlanName=name, TrainingPlanOfferingId=offering["TrainingPlanOfferingId"])["TrainingPlanArn"]
    if paid:
        advance(server, 1)  # T_payment
    return arn


def plan(sm, name_or_arn):
    return sm.describe_training_plan(TrainingPlanName=name_or_arn)


def gpu(name="gpu", count=2, arn=None, **extra):
    g = group(name, count, InstanceType=P5, **extra)
    if arn:
        g["TrainingPlanArn"] = arn
    return g


def eks(sm, name, *groups):
    return sm.create_cluster(ClusterName=name, InstanceGroups=list(groups), VpcConfig=VPC_A, NodeProvisioningMode="Continuous",
                             Orchestrator={"Eks": {"ClusterArn": f"{EKS_ARN}-{name}"}})["ClusterArn"]


def group_view(sm, name):
    return {n: (g["Status"], g["CurrentCount"], g["TargetCount"], g.get("TrainingPlanStatus")) for n, g in groups_of(sm, name).items()}


def statuses(sm, name):
    return sorted(n["InstanceStatus"]["Status"] for n in nodes(sm, name))


# --- §17.2 offerings ---------------------------------------------------------------------------------------------------

def test_R204_R206_plan_search_gives_three_daily_offerings_at_1130_utc_in_the_first_zone(tp, sm):
    offerings = search(sm, count=4, hours=30)
    assert len(offerings) == 3
    starts = [epoch(o["ReservedCapacityOfferings"][0]["StartTime"]) for o in offerings]
    assert starts == [SLOT, SLOT + DAY, SLOT + 2 * DAY]
    first = offerings[0]
    assert first["TrainingPlanOfferingId"].startswith("tpo-") and len(first["TrainingPlanOfferingId"]) == 4 + 64
    assert first["DurationHours"] == 48 and first["DurationMinutes"] == 0  # 30 h rounded up to whole days
    assert first["UpfrontFee"] == "1920.00" and first["CurrencyCode"] == "USD"  # 10.00 × 4 × 48
    assert first["TargetResources"] == ["hyperpod-cluster"]
    rc = first["ReservedCapacityOfferings"][0]
    assert (rc["ReservedCapacityType"], rc["InstanceType"], rc["InstanceCount"], rc["AvailabilityZone"]) == ("Instance", P5, 4, "us-east-1a")
    assert epoch(rc["EndTime"]) - epoch(rc["StartTime"]) == 48 * 3600
    assert "ExtensionStartTime" not in rc and "RequestedStartTimeAfter" not in first


def test_R204_counts_outside_powers_of_two_or_longer_than_182_days_give_no_offering(tp, sm):
    assert search(sm, count=3) == []
    assert search(sm, count=64, hours=4368)  # 182 days exactly
    assert search(sm, count=4, hours=4369) == []


def test_R204_start_and_end_bounds_filter_the_windows(tp, sm):
    after = SLOT + 3 * DAY - 60
    offerings = search(sm, StartTimeAfter=after, EndTimeBefore=SLOT + 5 * DAY)
    assert [epoch(o["ReservedCapacityOfferings"][0]["StartTime"]) for o in offerings] == [SLOT + 3 * DAY, SLOT + 4 * DAY]
    assert epoch(offerings[0]["RequestedStartTimeAfter"]) == after


def test_R205_search_refusals_in_order(tp, sm):
    def refused(**request):
        return error_of(sm.search_training_plan_offerings, **request)
    assert refused(InstanceType=P5, InstanceCount=4, DurationHours=24) == (
        "ValidationException", "TargetResources is required when searching for training plan offerings.")
    assert refused(InstanceType=P5, InstanceCount=4, TargetResources=["hyperpod-cluster"]) == (
        "ValidationException", "DurationHours is required when searching for training plan offerings.")
    assert refused(InstanceType=P5, DurationHours=24, TargetResources=["hyperpod-cluster"]) == (
        "ValidationException", "Specify either InstanceType and InstanceCount, or UltraServerType and UltraServerCount.")
    assert refused(InstanceType=P5, InstanceCount=4, UltraServerType="ml.u-p6e-gb200x36", UltraServerCount=1, DurationHours=24,
                   TargetResources=["hyperpod-cluster"])[1].startswith("Specify either")
    assert refused(UltraServerType="ml.u-p5x8", UltraServerCount=1, DurationHours=24, TargetResources=["hyperpod-cluster"]) == (
        "ValidationException", "UltraServerType ml.u-p5x8 is not supported.")
    assert refused(InstanceType=P5, InstanceCount=4, DurationHours=24, TargetResources=["hyperpod-cluster"],
                   StartTimeAfter=SLOT + DAY, EndTimeBefore=SLOT) == ("ValidationException", "EndTimeBefore must be later than StartTimeAfter.")


def test_R205_RA15_the_training_plan_quota_of_a_type(tp, sm):
    admin(tp, "/_hyperpod/quotas", {f"{P5} for training plan usage": 8}, method="PUT")
    buy(sm, tp, "first", count=8)
    code, message = error_of(sm.search_training_plan_offerings, InstanceType=P5, InstanceCount=1, DurationHours=24,
                             TargetResources=["hyperpod-cluster"])
    assert code == "ResourceLimitExceeded"
    assert message.startswith(f"The account-level service limit '{P5} for training plan usage' is 8 Instances, with current "
                              "utilization of 8 Instances and a request delta of 1 Instances.")
    assert search(sm, count=4, InstanceType="ml.p4d.24xlarge")  # another type's quota is untouched


def test_R207_ids_are_stable_and_a_bought_offering_is_gone(tp, sm):
    first, second = search(sm), search(sm)
    assert [o["TrainingPlanOfferingId"] for o in first] == [o["TrainingPlanOfferingId"] for o in second]
    chosen = first[0]["TrainingPlanOfferingId"]
    sm.create_training_plan(TrainingPlanName="one", TrainingPlanOfferingId=chosen)
    assert error_of(sm.create_training_plan, TrainingPlanName="two", TrainingPlanOfferingId=chosen) == (
        "ResourceNotFound", f"Training plan offering '{chosen}' is no longer available.")
    unknown = "tpo-" + "0" * 64
    assert error_of(sm.create_training_plan, TrainingPlanName="three", TrainingPlanOfferingId=unknown) == (
        "ResourceNotFound", f"Could not find training plan offering '{unknown}'")
    # A bought offering is never offered again: the same window now comes from the next zone (C-R207).
    again = search(sm)[0]
    assert again["TrainingPlanOfferingId"] != chosen and epoch(again["ReservedCapacityOfferings"][0]["StartTime"]) == SLOT
    assert again["ReservedCapacityOfferings"][0]["AvailabilityZone"] == "us-east-1b"


def test_R207_an_offering_lapses_at_its_start(tp, sm):
    offering = search(sm)[0]
    set_clock(tp, SLOT)
    assert error_of(sm.create_training_plan, TrainingPlanName="late", TrainingPlanOfferingId=offering["TrainingPlanOfferingId"])[0] == "ResourceNotFound"


def test_R203_RA12_a_full_pool_moves_offerings_to_the_next_zone_and_lists_bookings(tp, sm):
    admin(tp, "/_hyperpod/reservable-capacity", {P5: {"us-east-1a": 4}}, method="PUT")
    arn = buy(sm, tp, "fills-a", count=4)
    after = search(sm)
    assert after[0]["ReservedCapacityOfferings"][0]["AvailabilityZone"] == "us-east-1b"
    pools = admin(tp, "/_hyperpod/reservable-capacity")["pools"]
    zone_a = next(p for p in pools if p["instanceType"] == P5 and p["zone"] == "us-east-1a")
    assert zone_a["size"] == 4 and [(b["plan"], b["units"]) for b in zone_a["bookings"]] == [(arn, 4)]
    # Reservable pools and on-demand pools never affect each other: the on-demand pool of P5 is untouched.
    assert admin(tp, "/_hyperpod/capacity")["pools"] == []
    with pytest.raises(Exception) as refused:
        admin(tp, "/_hyperpod/reservable-capacity", {"ml.c5.xlarge": 4}, method="PUT")
    assert "400" in str(refused.value)
    admin(tp, "/_hyperpod/reservable-capacity", {}, method="PUT")  # back to 64 everywhere
    assert search(sm, count=8)[0]["ReservedCapacityOfferings"][0]["AvailabilityZone"] == "us-east-1a"


def test_R208_R216_an_ultraserver_plan_with_spares(tp, sm):
    offering = sm.search_training_plan_offerings(UltraServerType="ml.u-p6e-gb200x36", UltraServerCount=2, DurationHours=24,
                                                 TargetResources=["hyperpod-cluster"])["TrainingPlanOfferings"][0]
    rc = offering["ReservedCapacityOfferings"][0]
    assert (rc["ReservedCapacityType"], rc["UltraServerType"], rc["UltraServerCount"], rc["InstanceType"], rc["InstanceCount"]) == (
        "UltraServer", "ml.u-p6e-gb200x36", 2, "ml.p6e-gb200.36xlarge", 18)
    assert error_of(sm.create_training_plan, TrainingPlanName="u", TrainingPlanOfferingId=offering["TrainingPlanOfferingId"],
                    SpareInstanceCountPerUltraServer=9) == (
        "ValidationException", "SpareInstanceCountPerUltraServer must be less than 9 for UltraServer type ml.u-p6e-gb200x36.")
    arn = sm.create_training_plan(TrainingPlanName="u", TrainingPlanOfferingId=offering["TrainingPlanOfferingId"],
                                  SpareInstanceCountPerUltraServer=2)["TrainingPlanArn"]
    advance(tp, 1)
    described = plan(sm, arn)
    assert (described["TotalInstanceCount"], described["TotalUltraServerCount"], described["AvailableSpareInstanceCount"]) == (18, 2, 4)
    assert described["AvailableInstanceCount"] == 14  # usable size = 18 − 2 × 2 spares
    rc_arn = described["ReservedCapacitySummaries"][0]["ReservedCapacityArn"]
    servers = sm.list_ultra_servers_by_reserved_capacity(ReservedCapacityArn=rc_arn)["UltraServers"]
    assert len(servers) == 2 and all(s["UltraServerId"].startswith("us-") and len(s["UltraServerId"]) == 20 for s in servers)
    assert {(s["TotalInstanceCount"], s["ConfiguredSpareInstanceCount"], s["AvailableInstanceCount"], s["HealthStatus"]) for s in servers} == {
        (9, 2, 7, "Insufficient-Data")}
    assert sm.list_ultra_servers_by_reserved_capacity(ReservedCapacityArn=rc_arn, MaxResults=1)["NextToken"]
    reserved = sm.describe_reserved_capacity(ReservedCapacityArn=rc_arn)
    assert reserved["UltraServerSummary"] == {"UltraServerType": "ml.u-p6e-gb200x36", "InstanceType": "ml.p6e-gb200.36xlarge",
                                              "UltraServerCount": 2, "AvailableSpareInstanceCount": 4, "UnhealthyInstanceCount": 0}
    instance_plan = buy(sm, tp, "plain")
    plain_rc = plan(sm, instance_plan)["ReservedCapacitySummaries"][0]["ReservedCapacityArn"]
    assert sm.list_ultra_servers_by_reserved_capacity(ReservedCapacityArn=plain_rc)["UltraServers"] == []
    assert error_of(sm.create_training_plan, TrainingPlanName="x",
                    TrainingPlanOfferingId=search(sm)[0]["TrainingPlanOfferingId"], SpareInstanceCountPerUltraServer=1) == (
        "ValidationException", "SpareInstanceCountPerUltraServer is only supported for UltraServer offerings.")


# --- §17.3 the plan ----------------------------------------------------------------------------------------------------

def test_R201_R202_R209_R213_a_plan_by_name_or_arn_with_its_reserved_capacity(tp, sm):
    arn = buy(sm, tp, "Big-Run", paid=False)
    assert arn == "arn:aws:sagemaker:us-east-1:000000000000:training-plan/big-run"
    assert plan(sm, "big-run")["Status"] == "Pending" and plan(sm, arn)["TrainingPlanName"] == "Big-Run"
    assert error_of(sm.create_training_plan, TrainingPlanName="BIG-RUN", TrainingPlanOfferingId=search(sm)[0]["TrainingPlanOfferingId"]) == (
        "ResourceInUse", "Training plan BIG-RUN already exists.")
    advance(tp, 1)
    described = plan(sm, arn)
    assert described["Status"] == "Scheduled" and "StatusMessage" not in described
    assert (described["TotalInstanceCount"], described["AvailableInstanceCount"], described["InUseInstanceCount"],
            described["UnhealthyInstanceCount"]) == (4, 4, 0, 0)
    assert "TotalUltraServerCount" not in described and "AvailableSpareInstanceCount" not in described
    rc = described["ReservedCapacitySummaries"][0]
    assert rc["ReservedCapacityArn"] == "arn:aws:sagemaker:us-east-1:000000000000:reserved-capacity/big-run-rc1"
    assert (rc["Status"], rc["AvailabilityZone"], rc["TotalInstanceCount"]) == ("Scheduled", "us-east-1a", 4)
    if "AvailabilityZoneId" in sm.meta.service_model.shape_for("ReservedCapacitySummary").members:  # new in botocore 1.44
        assert rc["AvailabilityZoneId"] == "use1-az1"
    reserved = sm.describe_reserved_capacity(ReservedCapacityArn=rc["ReservedCapacityArn"])
    assert (reserved["Status"], reserved["AvailableInstanceCount"], reserved["InUseInstanceCount"]) == ("Scheduled", 4, 0)
    missing = "arn:aws:sagemaker:us-east-1:000000000000:training-plan/nope"
    assert error_of(sm.describe_training_plan, TrainingPlanName="nope") == ("ResourceNotFound", f"Could not find training plan '{missing}'")
    other = make_client(tp.endpoint, access_key="444455556666")  # another account (R27) sees nothing
    assert error_of(other.describe_training_plan, TrainingPlanName=arn)[0] == "ResourceNotFound"
    rc_missing = rc["ReservedCapacityArn"].replace("rc1", "rc9")
    assert error_of(sm.describe_reserved_capacity, ReservedCapacityArn=rc_missing) == (
        "ResourceNotFound", f"Could not find reserved capacity '{rc_missing}'")


def test_R210_R211_RA15_pending_scheduled_active_expired_and_a_failed_payment(tp, sm):
    admin(tp, "/_hyperpod/faults", {"kind": "training-plan-payment-failure", "trainingPlanName": "broke"})
    failed = buy(sm, tp, "broke")
    described = plan(sm, failed)
    assert described["Status"] == "Failed" and described["StatusMessage"] == "Payment for training plan broke failed."  # P4
    assert admin(tp, "/_hyperpod/faults")["faults"] == []  # consumed
    # A failed plan books nothing: its window is offered again.
    assert epoch(search(sm)[0]["ReservedCapacityOfferings"][0]["StartTime"]) == SLOT
    arn = buy(sm, tp, "life", paid=False)
    assert plan(sm, arn)["Status"] == "Pending"
    advance(tp, 1)
    assert plan(sm, arn)["Status"] == "Scheduled"  # P2
    set_clock(tp, SLOT)
    assert plan(sm, arn)["Status"] == "Active"  # P5, at the exact StartTime
    set_clock(tp, SLOT + DAY - 1)
    assert plan(sm, arn)["Status"] == "Active"
    set_clock(tp, SLOT + DAY)
    described = plan(sm, arn)
    assert described["Status"] == "Expired" and described["ReservedCapacitySummaries"][0]["Status"] == "Expired"  # P7
    assert described["AvailableInstanceCount"] == 0


def test_R211_RA13_a_published_offering_with_two_windows_goes_active_scheduled_active(tp, sm):
    published = admin(tp, "/_hyperpod/training-plan-offerings", {
        "targetResources": ["hyperpod-cluster", "training-job"],
        "reservedCapacities": [
            {"instanceType": P5, "instanceCount": 4, "zone": "us-east-1a", "startTime": T0 + 3600, "endTime": T0 + 7200},
            {"instanceType": P5, "instanceCount": 4, "zone": "us-east-1a", "startTime": T0 + 10800, "endTime": T0 + 14400},
        ]})["trainingPlanOfferingId"]
    offerings = search(sm, targets=("hyperpod-cluster", "training-job"))
    assert offerings[0]["TrainingPlanOfferingId"] == published and len(offerings) == 3  # published first (R207)
    assert search(sm, targets=("hyperpod-cluster",))[0]["TrainingPlanOfferingId"] != published  # its targets must be asked for
    arn = sm.create_training_plan(TrainingPlanName="two", TrainingPlanOfferingId=published)["TrainingPlanArn"]
    advance(tp, 1)
    described = plan(sm, arn)
    assert (described["DurationHours"], described["DurationMinutes"], described["UpfrontFee"]) == (2, 0, "80.00")
    assert [rc["ReservedCapacityArn"][-3:] for rc in described["ReservedCapacitySummaries"]] == ["rc1", "rc2"]
    seen = []
    for when in (T0 + 3600, T0 + 7200, T0 + 10800, T0 + 14400):
        set_clock(tp, when)
        seen.append(plan(sm, arn)["Status"])
    assert seen == ["Active", "Scheduled", "Active", "Expired"]  # P5, P6, P5, P7
    assert [o["taken"] for o in admin(tp, "/_hyperpod/training-plan-offerings")["offerings"]] == [True]


def test_R214_list_filters_sort_and_pages(tp, sm):
    buy(sm, tp, "b-plan")
    buy(sm, tp, "a-plan", StartTimeAfter=SLOT + DAY)
    buy(sm, tp, "c-plan", paid=False)
    names = lambda **kw: [p["TrainingPlanName"] for p in sm.list_training_plans(**kw)["TrainingPlanSummaries"]]
    assert names() == ["b-plan", "c-plan", "a-plan"] or names() == ["b-plan", "a-plan", "c-plan"]
    assert names(SortBy="TrainingPlanName") == ["a-plan", "b-plan", "c-plan"]
    assert names(SortBy="TrainingPlanName", SortOrder="Descending") == ["c-plan", "b-plan", "a-plan"]
    assert names(Filters=[{"Name": "Status", "Value": "Pending"}]) == ["c-plan"]
    assert sorted(names(Filters=[{"Name": "Status", "Value": "Pending"}, {"Name": "Status", "Value": "Scheduled"}])) == ["a-plan", "b-plan", "c-plan"]
    assert names(StartTimeAfter=SLOT + 1) == ["a-plan"]
    first = sm.list_training_plans(SortBy="TrainingPlanName", MaxResults=2)
    assert [p["TrainingPlanName"] for p in first["TrainingPlanSummaries"]] == ["a-plan", "b-plan"]
    rest = sm.list_training_plans(SortBy="TrainingPlanName", MaxResults=2, NextToken=first["NextToken"])
    assert [p["TrainingPlanName"] for p in rest["TrainingPlanSummaries"]] == ["c-plan"]
    assert error_of(sm.list_training_plans, Filters=[{"Name": "Status", "Value": "active"}]) == (
        "ValidationException", "Invalid value 'active' for filter Status.")
    summary = sm.list_training_plans(SortBy="TrainingPlanName")["TrainingPlanSummaries"][0]
    assert summary["ReservedCapacitySummaries"][0]["Status"] == "Scheduled" and "UnhealthyInstanceCount" not in summary


def test_R200_tags_on_a_training_plan_arn(tp, sm):
    arn = buy(sm, tp, "tagged")
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "ml"}])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    sm.delete_tags(ResourceArn=arn, TagKeys=["team"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == []


def test_RA14_settings_change_rates_slots_and_the_number_of_offerings(tp, sm):
    admin(tp, "/_hyperpod/training-plan-settings", {"hourlyRates": {P5: "98.32"}, "offeringsPerSearch": 1, "slotTimeUtc": "08:00"}, method="PUT")
    offerings = search(sm, count=2)
    assert len(offerings) == 1 and offerings[0]["UpfrontFee"] == "4719.36"  # 98.32 × 2 × 24
    assert epoch(offerings[0]["ReservedCapacityOfferings"][0]["StartTime"]) == T0 + 8 * 3600
    effective = admin(tp, "/_hyperpod/training-plan-settings")
    assert (effective["defaultHourlyRate"], effective["horizonDays"], effective["currencyCode"]) == ("10.00", 56, "USD")


# --- §17.4 extensions ----------------------------------------------------------------------------------------------------

def test_R217_R218_R219_R220_extend_a_plan_and_read_its_history(tp, sm):
    arn = buy(sm, tp, "ext")
    found = sm.search_training_plan_offerings(TrainingPlanArn=arn)
    assert found["TrainingPlanOfferings"] == []
    offers = found["TrainingPlanExtensionOfferings"]
    assert [o["DurationHours"] for o in offers] == [24, 168, 336]
    assert all(epoch(o["StartDate"]) == SLOT + DAY and o["AvailabilityZone"] == "us-east-1a" for o in offers)
    assert offers[0]["TrainingPlanExtensionOfferingId"].startswith("tpeo-") and offers[0]["UpfrontFee"] == "960.00"
    assert [o["DurationHours"] for o in sm.search_training_plan_offerings(TrainingPlanArn=arn, DurationHours=400)[
        "TrainingPlanExtensionOfferings"]] == [504]  # above 336 h: whole weeks
    extended = sm.extend_training_plan(TrainingPlanExtensionOfferingId=offers[0]["TrainingPlanExtensionOfferingId"])["TrainingPlanExtensions"]
    assert [(e["Status"], e["PaymentStatus"], e["AvailabilityZoneId"]) for e in extended] == [("Pending", "Pending", "use1-az1")]
    assert error_of(sm.search_training_plan_offerings, TrainingPlanArn=arn) == (
        "ValidationException", "Training plan ext has an extension with payment pending.")
    advance(tp, 1)
    described = plan(sm, arn)
    assert epoch(described["EndTime"]) == SLOT + 2 * DAY and described["DurationHours"] == 48
    assert described["ReservedCapacitySummaries"][0]["ReservedCapacityArn"].endswith("ext-rc1")  # the RC keeps its ARN
    assert described["UpfrontFee"] == "960.00"  # the purchase fee; the extension's is in its history
    history = sm.describe_training_plan_extension_history(TrainingPlanArn=arn)["TrainingPlanExtensions"]
    assert [(h["Status"], h["PaymentStatus"], h["DurationHours"]) for h in history] == [("Scheduled", "Completed", 24)]
    set_clock(tp, SLOT + DAY)
    assert sm.describe_training_plan_extension_history(TrainingPlanArn=arn)["TrainingPlanExtensions"][0]["Status"] == "Active"
    used = offers[0]["TrainingPlanExtensionOfferingId"]
    assert error_of(sm.extend_training_plan, TrainingPlanExtensionOfferingId=used) == (
        "ResourceNotFound", f"Could not find training plan extension offering '{used}'")
    set_clock(tp, SLOT + 2 * DAY)
    assert sm.describe_training_plan_extension_history(TrainingPlanArn=arn)["TrainingPlanExtensions"][0]["Status"] == "Expired"


def test_R217_R219_RA15_extension_refusals_and_a_failed_extension_payment(tp, sm):
    pending = buy(sm, tp, "unpaid", paid=False)
    assert error_of(sm.search_training_plan_offerings, TrainingPlanArn=pending) == (
        "ValidationException", "Training plan unpaid is in Pending status and cannot be extended.")
    ghost = pending.replace("unpaid", "ghost")
    assert error_of(sm.search_training_plan_offerings, TrainingPlanArn=ghost) == ("ValidationException", f"Training plan {ghost} not found.")
    arn = buy(sm, tp, "late")
    set_clock(tp, SLOT + DAY - 3601)  # the bound is inclusive (C-R217): 1 hour and 1 s before the end
    offer = sm.search_training_plan_offerings(TrainingPlanArn=arn, DurationHours=24)["TrainingPlanExtensionOfferings"][0]
    admin(tp, "/_hyperpod/faults", {"kind": "extension-payment-failure", "trainingPlanName": "late"})
    sm.extend_training_plan(TrainingPlanExtensionOfferingId=offer["TrainingPlanExtensionOfferingId"])
    advance(tp, 1)
    history = sm.describe_training_plan_extension_history(TrainingPlanArn=arn)["TrainingPlanExtensions"]
    assert [(h["Status"], h["PaymentStatus"]) for h in history] == [("Failed", "Failed")]
    assert epoch(plan(sm, arn)["EndTime"]) == SLOT + DAY  # plan unchanged
    set_clock(tp, SLOT + DAY - 3599)  # less than an hour before the end
    assert error_of(sm.search_training_plan_offerings, TrainingPlanArn=arn) == (
        "ValidationException", "Training plan late can be extended only between 56 days and 1 hour before it ends.")


# --- §17.5 clusters on a plan ------------------------------------------------------------------------------------------

def test_R221_create_cluster_checks_each_plan_backed_group_in_order(tp, sm):
    arn = buy(sm, tp, "checked", count=4)
    jobs_only = buy(sm, tp, "jobs", targets=("training-job",))
    unpaid = buy(sm, tp, "unpaid", paid=False)

    def refused(*groups, **extra):
        return error_of(sm.create_cluster, ClusterName="c", InstanceGroups=list(groups), **extra)
    missing = arn.replace("checked", "missing")
    assert refused(gpu(arn=missing)) == ("ValidationException", f"Training plan {missing} not found.")
    assert refused(gpu(arn=jobs_only)) == ("ValidationException", "Training plan jobs cannot be used by HyperPod clusters.")
    assert refused(gpu(arn=unpaid)) == ("ValidationException", "Training plan unpaid is in Pending status and cannot be used.")
    flexible = gpu(arn=arn)
    flexible.pop("InstanceType")
    flexible["InstanceRequirements"] = {"InstanceTypes": [P5]}
    assert refused(flexible, VpcConfig=VPC_A, NodeProvisioningMode="Continuous",
                   Orchestrator={"Eks": {"ClusterArn": f"{EKS_ARN}-f"}}) == (
        "ValidationException", "TrainingPlanArn is not supported for instance group gpu with InstanceRequirements.")
    assert refused(group("small", 1, TrainingPlanArn=arn)) == (
        "ValidationException", f"Instance type ml.c5.xlarge of instance group small does not match training plan checked ({P5}).")
    assert refused(gpu(arn=arn, OverrideVpcConfig={"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": [ZONE_B_SUBNET]}),
                   VpcConfig=VPC_A) == (
        "ValidationException", "No subnet of instance group gpu is in Availability Zone us-east-1a of training plan checked.")
    assert refused(gpu(count=5, arn=arn)) == (
        "ValidationException", f"Instance group gpu requests 5 instances but training plan checked reserves 4 {P5} instances.")
    # The name part of the ARN is compared ignoring case (R201).
    sm.create_cluster(ClusterName="ok", InstanceGroups=[gpu(arn=arn.replace("checked", "CHECKED"))])


def test_R221_C_R221e_spot_capacity_cannot_be_combined_with_a_plan(tp, sm):
    arn = buy(sm, tp, "spot")
    code, message = error_of(sm.create_cluster, ClusterName="s", InstanceGroups=[gpu(arn=arn, CapacityRequirements={"Spot": {}})],
                             VpcConfig=VPC_A, NodeProvisioningMode="Continuous", Orchestrator={"Eks": {"ClusterArn": f"{EKS_ARN}-s"}})
    assert (code, message) == ("ValidationException", "TrainingPlanArn cannot be combined with Spot capacity for instance group gpu.")


def test_R223_R224_R226_R227_R228_the_whole_scenario_on_the_manual_clock(tp, sm):
    run_scenario(tp, sm, restart=None)


def test_R231_RA9_a_restart_in_the_middle_of_the_scenario_changes_nothing_a_test_sees(make_server):
    """Must-show 3: the same scenario on a database file, the server killed with SIGKILL and started again at each step."""
    import tempfile, os
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "state.db")
    holder = {}

    def start():
        holder["server"] = make_server("--clock", "manual", "--db", path, in_memory=False)
        return holder["server"], make_client(holder["server"].endpoint)

    server, client = start()
    admin(server, "/_hyperpod/clock", {"set": T0})

    def restart():
        holder["server"].signal(9)
        holder["server"].wait(10)
        return start()

    run_scenario(server, client, restart=restart)


def run_scenario(server, sm, restart):
    """search → buy → Scheduled → cluster on it (groups waiting) → window (nodes launch from the plan) → extend →
    EndTime − 30 min (nodes drain) → Expired (groups wait at 0). `restart` (optional) kills and restarts the server
    between steps, returning the new (server, client)."""
    def step():
        nonlocal server, sm
        if restart:
            server, sm = restart()
    offering = search(sm, count=4)[0]
    arn = sm.create_training_plan(TrainingPlanName="scenario", TrainingPlanOfferingId=offering["TrainingPlanOfferingId"])["TrainingPlanArn"]
    step()
    assert plan(sm, arn)["Status"] == "Pending"
    assert settle(server)  # settle waits for the payment (R231)…
    assert plan(sm, arn)["Status"] == "Scheduled"
    cluster = eks(sm, "k", gpu("gpu", 3, arn=arn), group("cpu", 1))
    assert settle(server)  # …but not for the window
    assert admin(server, "/_hyperpod/clock")["now"] < SLOT
    step()
    # R224: the plan-backed group waits for its window, InService at 0; the on-demand group launched.
    assert group_view(sm, "k") == {"gpu": ("InService", 0, 3, "Scheduled"), "cpu": ("InService", 1, 1, None)}
    assert sm.describe_cluster(ClusterName="k")["ClusterStatus"] == "InService"
    assert sm.list_clusters(TrainingPlanArn=arn)["ClusterSummaries"][0]["TrainingPlanArns"] == [arn]  # R228
    assert sm.list_clusters(TrainingPlanArn=arn + "x")["ClusterSummaries"] == []
    waiting = [n for n in nodes(sm, "k", IncludeNodeLogicalIds=True) if n["InstanceGroupName"] == "gpu"]
    assert len(waiting) == 3 and all("InstanceId" not in n and n["InstanceStatus"]["Status"] == "Pending" for n in waiting)
    set_clock(server, SLOT)
    step()
    advance(server, 1)  # T_launch
    step()
    # R223: the nodes launched from the plan's RC in its zone; the plan counts them.
    assert group_view(sm, "k")["gpu"] == ("InService", 3, 3, "Active")
    gpu_nodes = [n for n in nodes(sm, "k") if n["InstanceGroupName"] == "gpu"]
    assert {sm.describe_cluster_node(ClusterName="k", NodeId=n["InstanceId"])["NodeDetails"]["Placement"]["AvailabilityZone"]
            for n in gpu_nodes} == {"us-east-1a"}
    described = plan(sm, arn)
    assert (described["Status"], described["InUseInstanceCount"], described["AvailableInstanceCount"]) == ("Active", 3, 1)
    # R223: plan-backed instances are outside the on-demand pools: a 0-sized on-demand pool of the type does not matter.
    offers = sm.search_training_plan_offerings(TrainingPlanArn=arn, DurationHours=24)["TrainingPlanExtensionOfferings"]
    sm.extend_training_plan(TrainingPlanExtensionOfferingId=offers[0]["TrainingPlanExtensionOfferingId"])
    step()
    advance(server, 1)  # T_payment: the end moves a day, the drain with it (R219, R226)
    end = epoch(plan(sm, arn)["EndTime"])
    assert end == SLOT + 2 * DAY
    set_clock(server, SLOT + DAY)  # the old drain time passes: nothing is touched
    assert group_view(sm, "k")["gpu"] == ("InService", 3, 3, "Active")
    set_clock(server, end - 1800)  # EndTime − 30 min (R226)
    step()
    assert [n["InstanceStatus"]["Status"] for n in nodes(sm, "k") if n["InstanceGroupName"] == "gpu" and "InstanceId" in n] == ["ShuttingDown"] * 3
    advance(server, 1)  # T_term
    step()
    assert group_view(sm, "k")["gpu"] == ("InService", 0, 3, "Active")  # slots wait; no status change (R226)
    assert sm.describe_cluster(ClusterName="k")["ClusterStatus"] == "InService"
    assert plan(sm, arn)["AvailableInstanceCount"] == 0
    set_clock(server, end)
    step()
    # R227: expired, the group keeps its plan and TargetCount at CurrentCount 0 and launches nothing. (ActiveOperations
    # follows the recorded operations, R306: a drain is no request and records none.)
    view = groups_of(sm, "k")["gpu"]
    assert (view["CurrentCount"], view["TargetCount"], view["TrainingPlanStatus"], view["TrainingPlanArn"]) == (0, 3, "Expired", arn)
    advance(server, 3600)
    assert group_view(sm, "k")["gpu"] == ("InService", 0, 3, "Expired")
    assert plan(sm, arn)["Status"] == "Expired"
    # R227, R222: removing the plan lets the waiting slots launch on demand.
    sm.update_cluster(ClusterName="k", InstanceGroups=[group("gpu", 3, InstanceType=P5), group("cpu", 1)])
    assert settle(server)
    assert group_view(sm, "k")["gpu"] == ("InService", 3, 3, None)
    assert cluster


def test_R225_a_legacy_create_beyond_the_free_units_fails_as_R117(tp, sm):
    arn = buy(sm, tp, "small", count=4)
    set_clock(tp, SLOT)
    sm.create_cluster(ClusterName="first", InstanceGroups=[gpu("g", 3, arn=arn)])
    assert settle(tp)
    sm.create_cluster(ClusterName="second", InstanceGroups=[gpu("g", 2, arn=arn)])
    settle(tp)
    described = sm.describe_cluster(ClusterName="second")
    assert described["ClusterStatus"] == "Failed"
    assert described["FailureMessage"] == "We currently do not have sufficient capacity for the requested instance type(s). Please try again."


def test_R225_R230_continuous_slots_wait_for_units_and_get_them_when_another_cluster_gives_them_back(tp, sm):
    arn = buy(sm, tp, "shared", count=4)
    set_clock(tp, SLOT)
    eks(sm, "one", gpu("g", 3, arn=arn))
    assert settle(tp)
    eks(sm, "two", gpu("g", 2, arn=arn))
    advance(tp, 5)
    assert group_view(sm, "two")["g"][1] == 1  # one unit left: the other slot waits (R118)
    sm.delete_cluster(ClusterName="one")
    advance(tp, 2)  # T_term: the units return (R230), the waiting slot retries at once (R225)
    advance(tp, 1)
    assert group_view(sm, "two")["g"][1:3] == (2, 2)
    assert plan(sm, arn)["InUseInstanceCount"] == 2


def test_R222_training_plan_arn_is_mutable_and_nodes_keep_their_source(tp, sm):
    arn = buy(sm, tp, "later")
    sm.create_cluster(ClusterName="m", InstanceGroups=[gpu("g", 2)])
    assert settle(tp)
    assert group_view(sm, "m")["g"] == ("InService", 2, 2, None)
    sm.update_cluster(ClusterName="m", InstanceGroups=[gpu("g", 2, arn=arn)])
    assert settle(tp)
    view = groups_of(sm, "m")["g"]
    assert view["TrainingPlanArn"] == arn and view["TrainingPlanStatus"] == "Scheduled" and view["CurrentCount"] == 2
    assert plan(sm, arn)["InUseInstanceCount"] == 0  # the running nodes stay on demand
    # A DescribeCluster round trip (TrainingPlanArn included) is a no-op; the update is not refused by R71 any more.
    sm.update_cluster(ClusterName="m", InstanceGroups=[gpu("g", 2, arn=arn)])
    assert sm.describe_cluster(ClusterName="m")["ClusterStatus"] == "InService"


def test_R228_ultraserver_nodes_carry_ultra_server_info_filling_one_server_first(tp, sm):
    offering = sm.search_training_plan_offerings(UltraServerType="ml.u-p6e-gb200x36", UltraServerCount=2, DurationHours=24,
                                                 TargetResources=["hyperpod-cluster"])["TrainingPlanOfferings"][0]
    arn = sm.create_training_plan(TrainingPlanName="nvl", TrainingPlanOfferingId=offering["TrainingPlanOfferingId"])["TrainingPlanArn"]
    advance(tp, 1)
    set_clock(tp, SLOT)
    sm.create_cluster(ClusterName="u", InstanceGroups=[group("g", 10, InstanceType="ml.p6e-gb200.36xlarge", TrainingPlanArn=arn)])
    assert settle(tp)
    infos = [n["UltraServerInfo"] for n in nodes(sm, "u")]
    assert all(i["Type"] == "ml.u-p6e-gb200x36" for i in infos)
    counts = {}
    for i in infos:
        counts[i["Id"]] = counts.get(i["Id"], 0) + 1
    assert sorted(counts.values()) == [2, 8]  # 8 usable per server (1 spare): the first fills before the second
    rc = plan(sm, arn)["ReservedCapacitySummaries"][0]["ReservedCapacityArn"]
    servers = sm.list_ultra_servers_by_reserved_capacity(ReservedCapacityArn=rc)["UltraServers"]
    assert sorted(s["InUseInstanceCount"] for s in servers) == [2, 8] and {s["HealthStatus"] for s in servers} == {"OK"}


def test_R231_settle_does_not_run_the_clock_to_a_window(tp, sm):
    arn = buy(sm, tp, "far", StartTimeAfter=T0 + 10 * DAY)
    sm.create_cluster(ClusterName="w", InstanceGroups=[gpu("g", 2, arn=arn)])
    assert settle(tp, seconds=30 * DAY)
    assert admin(tp, "/_hyperpod/clock")["now"] < T0 + DAY
    assert group_view(sm, "w")["g"] == ("InService", 0, 2, "Scheduled")
    state = admin(tp, "/_hyperpod/state")
    assert [p["TrainingPlanName"] for p in state["trainingPlans"]] == ["far"]
    assert any(t["event"].startswith('{"event":"planWindowStart"') for t in state["pendingTimers"])


def test_R212_R215_R229_a_failed_node_keeps_its_unit_counted_unhealthy(tp, sm):
    arn = buy(sm, tp, "sick", count=4)
    set_clock(tp, SLOT)
    sm.create_cluster(ClusterName="f", InstanceGroups=[gpu("g", 4, arn=arn)], NodeRecovery="None")
    assert settle(tp)
    victim = nodes(sm, "f")[0]["InstanceId"]
    admin(tp, "/_hyperpod/faults", {"kind": "node-failure", "cluster": "f", "nodeId": victim})
    described = plan(sm, arn)
    assert (described["InUseInstanceCount"], described["UnhealthyInstanceCount"], described["AvailableInstanceCount"]) == (3, 1, 0)
    rc = described["ReservedCapacitySummaries"][0]["ReservedCapacityArn"]
    reserved = sm.describe_reserved_capacity(ReservedCapacityArn=rc)
    assert (reserved["InUseInstanceCount"], reserved["AvailableInstanceCount"], reserved["Status"]) == (3, 0, "Active")
    # Removing the failed node gives its unit back (R230): available again for the plan.
    sm.batch_delete_cluster_nodes(ClusterName="f", NodeIds=[victim])
    advance(tp, 1)
    assert plan(sm, arn)["UnhealthyInstanceCount"] == 0


def test_R229_automatic_recovery_replaces_from_the_same_reserved_capacity(tp, sm):
    arn = buy(sm, tp, "heal", count=2)
    set_clock(tp, SLOT)
    sm.create_cluster(ClusterName="h", InstanceGroups=[gpu("g", 2, arn=arn)])
    assert settle(tp)
    victim = nodes(sm, "h")[0]["InstanceId"]
    admin(tp, "/_hyperpod/faults", {"kind": "node-failure", "cluster": "h", "nodeId": victim})
    assert settle(tp)
    after = nodes(sm, "h")
    assert victim not in [n["InstanceId"] for n in after] and statuses(sm, "h") == ["Running", "Running"]
    described = plan(sm, arn)
    assert (described["InUseInstanceCount"], described["UnhealthyInstanceCount"]) == (2, 0)  # never on demand


def test_R223_R100_batch_add_launches_from_the_plan_and_refuses_zones_outside_it(tp, sm):
    arn = buy(sm, tp, "adds", count=4)
    set_clock(tp, SLOT)
    two_zones = {"SecurityGroupIds": ["sg-0123456789abcdef0"], "Subnets": [ZONE_A_SUBNET, ZONE_B_SUBNET]}
    sm.create_cluster(ClusterName="b", InstanceGroups=[gpu("g", 1, arn=arn)], VpcConfig=two_zones, NodeProvisioningMode="Continuous",
                      Orchestrator={"Eks": {"ClusterArn": f"{EKS_ARN}-b"}})
    assert settle(tp)
    out = sm.batch_add_cluster_nodes(ClusterName="b", NodesToAdd=[
        {"InstanceGroupName": "g", "IncrementTargetCountBy": 1, "AvailabilityZones": ["us-east-1b"]},
        {"InstanceGroupName": "g", "IncrementTargetCountBy": 2, "AvailabilityZones": ["us-east-1a"]}])
    assert [(f["ErrorCode"], f["Message"]) for f in out["Failed"]] == [(
        "IncompatibleAvailabilityZones", "Availability zone us-east-1b is not in the reserved capacity of training plan adds for instance group g.")]
    assert len(out["Successful"]) == 2
    assert settle(tp)
    assert group_view(sm, "b")["g"] == ("InService", 3, 3, "Active") and plan(sm, arn)["InUseInstanceCount"] == 3


def test_R219_R226_an_extension_paid_after_the_drain_relaunches_the_waiting_slots_at_once(tp, sm):
    admin(tp, "/_hyperpod/timing", {"T_payment": 2700}, method="PUT")  # 45 min: bought 1 h before the end, paid after the drain
    offering = search(sm, count=2)[0]
    arn = sm.create_training_plan(TrainingPlanName="slow", TrainingPlanOfferingId=offering["TrainingPlanOfferingId"])["TrainingPlanArn"]
    set_clock(tp, SLOT)
    sm.create_cluster(ClusterName="d", InstanceGroups=[gpu("g", 2, arn=arn)])
    advance(tp, 5)
    assert group_view(sm, "d")["g"] == ("InService", 2, 2, "Active")
    set_clock(tp, SLOT + DAY - 3600)
    offer = sm.search_training_plan_offerings(TrainingPlanArn=arn, DurationHours=24)["TrainingPlanExtensionOfferings"][0]
    sm.extend_training_plan(TrainingPlanExtensionOfferingId=offer["TrainingPlanExtensionOfferingId"])
    set_clock(tp, SLOT + DAY - 1800 + 5)  # the drain has run: the nodes are gone, the slots wait
    assert group_view(sm, "d")["g"] == ("InService", 0, 2, "Active")
    set_clock(tp, SLOT + DAY - 900)  # the payment completes: the RC runs a day longer, the slots launch at once
    advance(tp, 5)
    assert group_view(sm, "d")["g"] == ("InService", 2, 2, "Active")
    assert epoch(plan(sm, arn)["EndTime"]) == SLOT + 2 * DAY


def publish(server, windows, targets=("hyperpod-cluster",)):
    """RA13: an offering with these (count, start, end) windows of P5 in zone a."""
    return admin(server, "/_hyperpod/training-plan-offerings", {"targetResources": list(targets), "reservedCapacities": [
        {"instanceType": P5, "instanceCount": n, "zone": "us-east-1a", "startTime": start, "endTime": end} for n, start, end in windows]})[
        "trainingPlanOfferingId"]


def test_R226_drained_slots_relaunch_from_a_later_overlapping_window_and_run(tp, sm):
    offering = publish(tp, [(2, SLOT, SLOT + DAY), (2, SLOT + 3600, SLOT + 3 * DAY)])
    arn = sm.create_training_plan(TrainingPlanName="overlap", TrainingPlanOfferingId=offering)["TrainingPlanArn"]
    advance(tp, 1)
    set_clock(tp, SLOT)
    eks(sm, "o", gpu("g", 2, arn=arn))
    advance(tp, 5)
    assert group_view(sm, "o")["g"] == ("InService", 2, 2, "Active")
    set_clock(tp, SLOT + DAY - 1800)  # the first RC drains; the second is open: the slots relaunch from it
    advance(tp, 5)
    assert group_view(sm, "o")["g"] == ("InService", 2, 2, "Active")
    assert statuses(sm, "o") == ["Running", "Running"]
    rcs = plan(sm, arn)["ReservedCapacitySummaries"]
    assert [sm.describe_reserved_capacity(ReservedCapacityArn=rc["ReservedCapacityArn"])["InUseInstanceCount"] for rc in rcs] == [0, 2]


def test_R222_R223_an_update_that_sets_a_plan_and_scales_up_launches_from_it_at_once(tp, sm):
    first = buy(sm, tp, "first", count=4)
    second = sm.create_training_plan(TrainingPlanName="second", TrainingPlanOfferingId=publish(tp, [(4, SLOT, SLOT + 2 * DAY)]))["TrainingPlanArn"]
    advance(tp, 1)
    set_clock(tp, SLOT)
    eks(sm, "u", gpu("g", 3, arn=first), group("cpu", 1))
    assert settle(tp)
    sm.update_cluster(ClusterName="u", InstanceGroups=[gpu("g", 4, arn=second), group("cpu", 1), gpu("h", 2, arn=second)])
    advance(tp, 5)
    assert group_view(sm, "u")["g"][1:3] == (4, 4) and group_view(sm, "u")["h"][1:3] == (2, 2)
    assert (plan(sm, first)["InUseInstanceCount"], plan(sm, second)["InUseInstanceCount"]) == (3, 3)  # old nodes keep their source


def test_R231_settle_stops_short_of_a_drain_while_a_group_waits_for_units(tp, sm):
    arn = buy(sm, tp, "short", count=4)
    set_clock(tp, SLOT)
    eks(sm, "k1", gpu("g", 4, arn=arn))
    eks(sm, "k2", gpu("g", 1, arn=arn))
    answer = admin(tp, "/_hyperpod/settle", {})
    assert answer["settled"] is False  # k2 still waits for a unit…
    assert answer["now"] < SLOT + DAY - 1800  # …and the clock stopped before the drain
    assert group_view(sm, "k1")["g"][1] == 4


def test_R219_an_extension_paid_after_the_plan_expired_fails_and_a_failed_one_can_be_bought_again(tp, sm):
    admin(tp, "/_hyperpod/timing", {"T_payment": 7200}, method="PUT")
    arn = buy(sm, tp, "gone", paid=False)
    advance(tp, 7200)
    set_clock(tp, SLOT + DAY - 3600)
    offer = sm.search_training_plan_offerings(TrainingPlanArn=arn, DurationHours=24)["TrainingPlanExtensionOfferings"][0]
    sm.extend_training_plan(TrainingPlanExtensionOfferingId=offer["TrainingPlanExtensionOfferingId"])
    set_clock(tp, SLOT + DAY + 3600)  # the payment falls due after the end: P7 is final
    assert plan(sm, arn)["Status"] == "Expired"
    assert [(h["Status"], h["PaymentStatus"]) for h in sm.describe_training_plan_extension_history(TrainingPlanArn=arn)["TrainingPlanExtensions"]] == [
        ("Failed", "Failed")]
    admin(tp, "/_hyperpod/timing", {"T_payment": 1}, method="PUT")
    again = buy(sm, tp, "again")
    set_clock(tp, SLOT + 2 * DAY - 7200)
    admin(tp, "/_hyperpod/faults", {"kind": "extension-payment-failure", "trainingPlanName": "again"})
    offer = sm.search_training_plan_offerings(TrainingPlanArn=again, DurationHours=24)["TrainingPlanExtensionOfferings"][0]
    sm.extend_training_plan(TrainingPlanExtensionOfferingId=offer["TrainingPlanExtensionOfferingId"])
    advance(tp, 1)
    retry = sm.search_training_plan_offerings(TrainingPlanArn=again, DurationHours=24)["TrainingPlanExtensionOfferings"]
    assert [o["TrainingPlanExtensionOfferingId"] for o in retry] == [offer["TrainingPlanExtensionOfferingId"]]  # unpaid: offered again
    sm.extend_training_plan(TrainingPlanExtensionOfferingId=offer["TrainingPlanExtensionOfferingId"])
    advance(tp, 1)
    assert epoch(plan(sm, again)["EndTime"]) == SLOT + 4 * DAY  # its window: the day after "gone" ended, plus a day


def test_R11_R214_RA13_last_pages_omit_next_token_and_bad_publications_are_400(tp, sm):
    buy(sm, tp, "only")
    assert "NextToken" not in sm.list_training_plans()
    import urllib.error
    for bad in ({"ultraServerType": "ml.u-p6e-gb200x72", "ultraServerCount": 4611686018427387904},
                {"instanceType": P5, "instanceCount": 4, "startTime": T0 + 100.0001, "endTime": T0 + 100.0002},
                {"instanceType": P5, "instanceCount": 4, "startTime": 1e14, "endTime": 1e14 + 10},
                {"instanceType": P5, "instanceCount": 4, "ultraServerType": "ml.u-p6e-gb200x36", "ultraServerCount": 1}):
        entry = {"zone": "us-east-1a", "startTime": T0, "endTime": T0 + 3600}
        entry.update(bad)
        with pytest.raises(urllib.error.HTTPError) as refused:
            admin(tp, "/_hyperpod/training-plan-offerings", {"targetResources": ["hyperpod-cluster"], "reservedCapacities": [entry]})
        assert refused.value.code == 400
    for setting in ({"defaultHourlyRate": "+5"}, {"slotTimeUtc": "+1:30"}, {"currencyCode": "€€€"}):
        with pytest.raises(urllib.error.HTTPError) as refused:
            admin(tp, "/_hyperpod/training-plan-settings", setting, method="PUT")
        assert refused.value.code == 400
    assert admin(tp, "/_hyperpod/health")["status"] == "running"
