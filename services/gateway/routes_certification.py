"""Gateway routes of the certification service (a mixin of GatewayService).

Outlets apply and read their own file; centers review their tenant's outlets and keep the
technicians' training and exams; HQ approves, sees every tenant and the network plan. Which
rows a caller sees is the certification service's session's business (tenancy); the role
checks here only keep callers away from routes that are not for them.
"""

from __future__ import annotations

from services.certification import contracts
from services.gateway import responses
from services.gateway.api import API, api, json_body, query_args
from shared import tenancy
from shared.errors import Forbidden
from shared.rpc import RpcProxy

TAG = "certification"


def _roles(principal, *roles, what):
    if principal.role not in roles:
        raise Forbidden(f"{what} is for {' or '.join(roles)}", {"role": [f"{principal.role} may not"]})


class CertificationRoutes:
    """The certification endpoints under /api/v1; `GatewayService` inherits them."""

    certification = RpcProxy("certification")

    # ------------------------------------------------------------ outlets
    @api(
        "POST",
        f"{API}/outlets",
        "Apply for an outlet with its registration form (网点情况登记表); "
        "an outlet for itself or a center on its behalf",
        body=contracts.ApplyIn,
        response=contracts.OutletOut,
        status=201,
        tag=TAG,
    )
    def apply_outlet(self, request, principal):
        _roles(principal, tenancy.OUTLET, tenancy.CENTER, what="an outlet application")
        return self.certification.apply_outlet(json_body(request))

    @api(
        "GET",
        f"{API}/outlets",
        "Outlets you may see (a center: its tenant's; HQ: all)",
        query=contracts.OutletQuery,
        response=responses.OutletPage,
        tag=TAG,
    )
    def list_outlets(self, request, principal):
        return self.certification.list_outlets(query_args(request))

    @api(
        "GET",
        f"{API}/outlets/<string:outlet_id>",
        "An outlet's file (网点档案): agreement, registration form, "
        "grade history, staff, assessments, monthly counts, steps",
        response=responses.OutletFile,
        tag=TAG,
    )
    def get_outlet(self, request, principal, outlet_id):
        return self.certification.get_outlet(outlet_id)

    @api("GET", f"{API}/outlet/file", "The calling outlet's own file", response=responses.OutletFile, tag=TAG)
    def own_outlet_file(self, request, principal):
        _roles(principal, tenancy.OUTLET, what="the own file")
        return self.certification.get_outlet(principal.outlet)

    @api(
        "POST",
        f"{API}/outlets/<string:outlet_id>/steps",
        "A lifecycle step: center_review, technical_review, "
        "head_approval, issue_agreement, assess_probation, suspend, reinstate, request_revocation, "
        "revocation_center_review, revocation_technical_review, revocation_approval, request_clearing",
        body=contracts.StepIn,
        response=contracts.OutletOut,
        tag=TAG,
    )
    def outlet_step(self, request, principal, outlet_id):
        return self.certification.outlet_step(outlet_id, json_body(request))

    @api(
        "GET",
        f"{API}/outlets/<string:outlet_id>/steps",
        "The lifecycle steps you may take on the outlet now (by your role, duty and its state)",
        response=contracts.AllowedStepsOut,
        tag=TAG,
    )
    def outlet_allowed_steps(self, request, principal, outlet_id):
        return self.certification.allowed_outlet_steps(outlet_id)

    # ------------------------------------------------------------ technicians
    @api(
        "GET",
        f"{API}/certification/technicians",
        "Technicians with their certificates",
        query=contracts.TechnicianQuery,
        response=responses.CertifiedTechnician(many=True),
        tag=TAG,
    )
    def cert_technicians(self, request, principal):
        return self.certification.list_technicians(query_args(request))

    @api(
        "GET",
        f"{API}/certification/technicians/<string:technician_id>",
        "A technician's certificates and exam results",
        response=responses.TechnicianFile,
        tag=TAG,
    )
    def cert_technician(self, request, principal, technician_id):
        return self.certification.get_technician(technician_id)

    @api(
        "POST",
        f"{API}/certification/technicians",
        "Register a technician of an outlet",
        body=contracts.TechnicianIn,
        response=contracts.TechnicianOut,
        tag=TAG,
    )
    def cert_register_technician(self, request, principal):
        _roles(principal, tenancy.CENTER, tenancy.HQ, what="registering technicians")
        return self.certification.register_technician(json_body(request))

    @api(
        "GET", f"{API}/certification/trainings", "Training sessions", response=contracts.TrainingOut(many=True), tag=TAG
    )
    def cert_trainings(self, request, principal):
        _roles(principal, tenancy.CENTER, tenancy.HQ, what="training records")
        return self.certification.list_trainings()

    @api(
        "POST",
        f"{API}/certification/trainings",
        "Record a training session (技术培训) for a product line",
        body=contracts.TrainingIn,
        response=contracts.TrainingOut,
        status=201,
        tag=TAG,
    )
    def cert_record_training(self, request, principal):
        _roles(principal, tenancy.CENTER, tenancy.HQ, what="training records")
        return self.certification.record_training(json_body(request))

    # ------------------------------------------------------------ training plans (seed 001, 003)
    @api(
        "POST",
        f"{API}/training-plans",
        "A training plan (培训计划) for a product line and year with its planned sessions: HQ's annual "
        "(3–4 sessions, seed 001), new-product (before the launch) or special plan for one center or every "
        "center (no tenant_id); a center's regional plan",
        body=contracts.TrainingPlanIn,
        response=contracts.TrainingPlanCreated,
        status=201,
        tag=TAG,
    )
    def create_training_plan(self, request, principal):
        _roles(principal, tenancy.CENTER, tenancy.HQ, what="training plans")
        return self.certification.create_training_plan(json_body(request))

    @api(
        "GET",
        f"{API}/training-plans",
        "Training plans you may see, with planned and held sessions, progress and the seed's 3–4 a year warnings",
        query=contracts.TrainingPlanQuery,
        response=contracts.TrainingPlanPage,
        tag=TAG,
    )
    def list_training_plans(self, request, principal):
        _roles(principal, tenancy.CENTER, tenancy.HQ, what="training plans")
        return self.certification.list_training_plans(query_args(request))

    @api(
        "GET",
        f"{API}/training-plans/<string:plan_id>",
        "A training plan with its sessions and attendees",
        response=contracts.TrainingPlanOut,
        tag=TAG,
    )
    def get_training_plan(self, request, principal, plan_id):
        _roles(principal, tenancy.CENTER, tenancy.HQ, what="training plans")
        return self.certification.get_training_plan(plan_id)

    @api(
        "POST",
        f"{API}/training-plans/<string:plan_id>/sessions",
        "A session held under the plan, with its attendees (an exam of the line needs one attended)",
        body=contracts.PlanSessionIn,
        response=contracts.TrainingOut,
        status=201,
        tag=TAG,
    )
    def record_plan_session(self, request, principal, plan_id):
        _roles(principal, tenancy.CENTER, tenancy.HQ, what="training records")
        return self.certification.record_plan_session(plan_id, json_body(request))

    @api(
        "POST",
        f"{API}/certification/exams",
        "Record an exam result; a pass issues a 2-year certificate",
        body=contracts.ExamIn,
        response=responses.ExamRecorded,
        status=201,
        tag=TAG,
    )
    def cert_record_exam(self, request, principal):
        _roles(principal, tenancy.CENTER, tenancy.HQ, what="exam results")
        return self.certification.record_exam(json_body(request))

    @api(
        "POST",
        f"{API}/certification/certificates/revoke",
        "Withdraw a technician's certificate for a line",
        body=contracts.RevokeCertificateIn,
        response=contracts.CertificateOut(many=True),
        tag=TAG,
    )
    def cert_revoke(self, request, principal):
        _roles(principal, tenancy.CENTER, tenancy.HQ, what="withdrawing certificates")
        return self.certification.revoke_certificate(json_body(request))

    # ------------------------------------------------------------ network planning
    @api(
        "GET",
        f"{API}/network-plan",
        "Network planning (seed 003): yearly repair volume per area from the "
        "installed base × repair rates, outlets needed at a capacity, against current outlets",
        query=contracts.PlanQuery,
        response=responses.NetworkPlan,
        tag=TAG,
    )
    def network_plan(self, request, principal):
        _roles(principal, tenancy.CENTER, tenancy.HQ, what="network planning")
        return self.certification.network_plan(query_args(request))
