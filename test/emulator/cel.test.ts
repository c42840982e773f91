// The CEL subset workload identity providers are evaluated with: Google's documented GitHub and
// GitLab mappings and conditions, CEL's error semantics, and refusal of what it does not evaluate.
import { describe, expect, it } from 'vitest';
import { CelEvalError, CelSyntaxError, compileCel, evaluateCel, type CelValue } from '../../emulator/core/cel';
import { attributeConditionProblem, attributeMappingProblem, federate, FederationRefusal } from '../../emulator/core/workload-identity';

const github = {
  sub: 'repo:octo-org/octo-repo:environment:prod',
  repository: 'octo-org/octo-repo',
  repository_id: '74',
  repository_owner: 'octo-org',
  repository_owner_id: '65',
  ref: 'refs/heads/main',
  environment: 'prod',
  workflow_ref: 'octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main',
};

const run = (expression: string, assertion: Record<string, unknown> = github, extra: Record<string, CelValue> = {}) =>
  evaluateCel(compileCel(expression, ['assertion', 'google', 'attribute']), { assertion: assertion as CelValue, google: { subject: 'x' }, attribute: {}, ...extra });

describe('CEL subset', () => {
  it.each([
    ["assertion.repository_owner_id == '65' && assertion.repository_id == '74'", true],
    ["assertion.repository_id != '74'", false],
    ["assertion.ref == 'refs/heads/main' || assertion.ref.startsWith('refs/tags/')", true],
    ["!(assertion.repository_owner == 'evil')", true],
    ["assertion.environment in ['prod', 'staging']", true],
    ["assertion.workflow_ref.endsWith('@refs/heads/main') && assertion.sub.contains(':environment:')", true],
    ["assertion['repository'] == \"octo-org/octo-repo\"", true],
    ["has(assertion.environment) && !has(assertion.job_workflow_ref)", true],
    ["'repo:' + assertion.repository == 'repo:octo-org/octo-repo'", true],
    ["assertion.repository_id == 74", false],
    ["assertion.ref == 'refs/heads/main' ? true : false", true],
  ])('%s → %s', (expression, expected) => {
    expect(run(expression)).toBe(expected);
  });

  it('absorbs an error on one side of || and && the way CEL does', () => {
    expect(run("assertion.missing == 'x' || assertion.repository_id == '74'")).toBe(true);
    expect(run("assertion.missing == 'x' && assertion.repository_id == '0'")).toBe(false);
    expect(() => run("assertion.missing == 'x' && assertion.repository_id == '74'")).toThrow(CelEvalError);
    expect(() => run('assertion.repository.startsWith(1)')).toThrow(/no matching overload/);
  });

  it.each([
    ['assertion.sub.matches("^repo:")', /unsupported function 'matches'/],
    ['size(assertion.sub) > 0', /unsupported function 'size'/],
    ['request.auth.claims == 1', /undeclared reference to 'request'/],
    ["assertion.sub == 'a' &&", /unexpected end/],
    ['assertion.a - 1', /'-' operator/],
    ["'unterminated", /unterminated/],
  ])('refuses %s', (expression, message) => {
    expect(() => compileCel(expression, ['assertion', 'google', 'attribute'])).toThrow(CelSyntaxError);
    expect(() => compileCel(expression, ['assertion', 'google', 'attribute'])).toThrow(message);
  });
});

describe('provider mapping and condition', () => {
  const provider = {
    attributeMapping: {
      'google.subject': 'assertion.sub',
      'attribute.repository_id': 'assertion.repository_id',
      'attribute.environment': 'assertion.environment',
      'attribute.actor': 'assertion.actor',
    },
    attributeCondition: "attribute.repository_id == '74' && google.subject.startsWith('repo:octo-org/')",
  };

  it('maps claims to attributes and leaves an absent claim unmapped', () => {
    expect(federate(provider, github)).toEqual({ subject: github.sub, groups: [], attributes: { repository_id: ['74'], environment: ['prod'] } });
  });

  it('refuses a token the condition rejects with unauthorized_client', () => {
    let refusal: unknown;
    try {
      federate(provider, { ...github, repository_id: '75' });
    } catch (err) {
      refusal = err;
    }
    expect(refusal).toBeInstanceOf(FederationRefusal);
    expect(refusal).toMatchObject({ error: 'unauthorized_client', description: 'The given credential is rejected by the attribute condition.' });
  });

  it('checks mappings and conditions when a provider is written', () => {
    expect(attributeMappingProblem({ 'attribute.repository': 'assertion.repository' })).toMatch(/google\.subject/);
    expect(attributeMappingProblem({ 'google.subject': 'assertion.sub', 'assertion.aud': 'assertion.aud' })).toBe(
      "Invalid mapped attribute key: assertion.aud. Custom mapped attributes must be in format 'attribute.{custom_attribute}'",
    );
    expect(attributeMappingProblem({ 'google.subject': 'attribute.sub' })).toMatch(/undeclared reference to 'attribute'/);
    expect(attributeConditionProblem("assertion.sub.matches('x')")).toMatch(/^Invalid attribute condition: .*unsupported function 'matches'/);
    expect(attributeConditionProblem("attribute.repository_id == '74'")).toBeUndefined();
  });
});
