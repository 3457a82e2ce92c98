// The JSON shapes of the custops.v1 messages the console reads, as the
// server writes them (protobuf's JSON mapping, MessageToJsonString defaults):
// lowerCamelCase names, enums by name, int64 as decimal strings, Timestamps as
// RFC 3339 strings, and every field holding its default value omitted — so
// every field here is optional and "absent" means 0 / "" / false / [] /
// *_UNSPECIFIED. The messages themselves are in proto/custops/v1/.

/** int64 / uint64 on the wire: a decimal string (absent = "0"). */
export type Int64 = string;
/** google.protobuf.Timestamp: RFC 3339, e.g. "2024-03-01T00:00:00Z". */
export type Timestamp = string;

// common.proto
export interface Money {
  units?: Int64; // minor units (分 for CNY)
  currency?: string;
}
export interface DateMsg {
  year?: number;
  month?: number;
  day?: number;
}
export interface Position {
  topic?: string;
  partition?: number;
  offset?: Int64;
}
export type Granularity =
  | 'GRANULARITY_DAY'
  | 'GRANULARITY_WEEK'
  | 'GRANULARITY_MONTH'
  | 'GRANULARITY_QUARTER'
  | 'GRANULARITY_YEAR';
export type Dimension =
  | 'DIMENSION_ALL'
  | 'DIMENSION_REGION'
  | 'DIMENSION_INDUSTRY'
  | 'DIMENSION_OWNER'
  | 'DIMENSION_CHANNEL'
  | 'DIMENSION_PRODUCT'
  | 'DIMENSION_TIER'
  | 'DIMENSION_KIND';
export interface Period {
  granularity?: Granularity;
  start?: Timestamp;
}

// review.proto
export interface Fraction {
  numerator?: Int64;
  denominator?: Int64;
}
export type MetricUnit =
  | 'METRIC_UNIT_UNSPECIFIED'
  | 'METRIC_UNIT_MONEY'
  | 'METRIC_UNIT_COUNT'
  | 'METRIC_UNIT_SHARE'
  | 'METRIC_UNIT_DAYS'
  | 'METRIC_UNIT_HOURS'
  | 'METRIC_UNIT_SCORE';
/** No field set = null (not defined). */
export interface MetricValue {
  money?: Money;
  count?: Int64;
  ratio?: Fraction;
}
export interface Metric {
  name?: string;
  value?: MetricValue;
  previous?: MetricValue;
  yearAgo?: MetricValue;
  unit?: MetricUnit;
  changeVsPrevious?: Fraction;
  changeVsYearAgo?: Fraction;
  history?: MetricValue[];
}
export interface Finding {
  ruleId?: string;
  metric?: string;
  condition?: string;
  baseline?: string;
  severity?: string;
  value?: MetricValue;
  base?: MetricValue;
  change?: Fraction;
  threshold?: Fraction;
  customerIds?: string[];
  opportunityIds?: string[];
}
export interface ReviewAction {
  actionId?: string;
  reviewPeriod?: string;
  finding?: string;
  owner?: string;
  due?: Timestamp;
  description?: string;
  closed?: boolean;
  note?: string;
  metric?: string;
  valueThen?: MetricValue;
  valueNow?: MetricValue;
}
export interface ReviewReport {
  periodKey?: string;
  periodStart?: Timestamp;
  periodEnd?: Timestamp;
  previousPeriodKey?: string;
  yearAgoPeriodKey?: string;
  dimension?: Dimension;
  dimensionValue?: string;
  metrics?: Metric[];
  findings?: Finding[];
  actions?: ReviewAction[];
}
export interface ReviewRow {
  dimensionValue?: string;
  metrics?: Metric[];
}
export interface CompareReviewResponse {
  periodKey?: string;
  dimension?: Dimension;
  rows?: ReviewRow[];
  nextPageToken?: string;
}
export interface FunnelStageRow {
  stage?: string;
  entered?: Int64;
  advanced?: Int64;
  conversion?: Fraction;
}
export interface CompetitorLoss {
  competitor?: string;
  opportunities?: Int64;
  amount?: Money;
}
export interface FunnelSlice {
  dimensionValue?: string;
  stages?: FunnelStageRow[];
  weightedPipeline?: Money;
  openOpportunities?: Int64;
  won?: Int64;
  lost?: Int64;
  winRate?: Fraction;
  wonCycleDays?: Fraction;
  wonWithCycle?: Int64;
  salesCycleDays?: Fraction;
  lossesByCompetitor?: CompetitorLoss[];
}
export interface FunnelResponse {
  periodKey?: string;
  slices?: FunnelSlice[];
  nextPageToken?: string;
}
export interface WorklistItem {
  customerId?: string;
  reason?: string;
  subjectId?: string;
  at?: Timestamp;
  urgency?: string;
  customerName?: string;
  ownerId?: string;
  region?: string;
}
export interface WorklistResponse {
  items?: WorklistItem[];
  nextPageToken?: string;
}
export interface ComplaintStatus {
  complaintId?: string;
  category?: string;
  severity?: string;
  filedAt?: Timestamp;
  respondedAt?: Timestamp;
  resolvedAt?: Timestamp;
  due?: Timestamp;
  urgency?: string;
}
export interface Receivable {
  contractId?: string;
  amount?: Money;
  paid?: Money;
  outstanding?: Money;
  paymentDue?: Timestamp;
  overdue?: boolean;
}
export interface CustomerActivityResponse {
  customerId?: string;
  complaints?: ComplaintStatus[];
  receivables?: Receivable[];
  worklist?: WorklistItem[];
}

// lifecycle.proto
export interface CustomerProfile {
  name?: string;
  kind?: string;
  industry?: string;
  region?: string;
  ownerId?: string;
  channel?: string;
  size?: string;
  budget?: Money;
  need?: string;
  registeredAt?: Timestamp;
}
export interface StageTransition {
  at?: Timestamp;
  from?: string;
  to?: string;
  reason?: string;
  fromSubStage?: string;
  toSubStage?: string;
}
export interface OpenOpportunity {
  opportunityId?: string;
  stage?: string;
  probability?: number;
  amount?: Money;
  product?: string;
  openedAt?: Timestamp;
}
export interface Contact {
  contactId?: string;
  name?: string;
  role?: string;
  birthday?: DateMsg;
  visited?: boolean;
}
export interface CustomerView {
  customerId?: string;
  profile?: CustomerProfile;
  stage?: string;
  subStage?: string;
  stageHistory?: StageTransition[];
  winBackCount?: number;
  manClass?: string;
  openOpportunities?: OpenOpportunity[];
  lastActivityAt?: Timestamp;
  firstPurchaseAt?: Timestamp;
  lastPurchaseAt?: Timestamp;
  flags?: string[];
  contacts?: Contact[];
  revenueLast365d?: Money;
  revenuePrior365d?: Money;
  purchaseCount?: number;
  asOf?: Timestamp;
}
export interface CustomerFilter {
  stage?: string;
  subStage?: string;
  region?: string;
  ownerId?: string;
  industry?: string;
  kind?: string;
}
export interface CustomerSummary {
  customerId?: string;
  name?: string;
  kind?: string;
  stage?: string;
  subStage?: string;
  region?: string;
  industry?: string;
  ownerId?: string;
  manClass?: string;
  lastActivityAt?: Timestamp;
}
export interface ListCustomersResponse {
  customers?: CustomerSummary[];
  nextPageToken?: string;
}
export interface StageCount {
  dimensionValue?: string;
  stage?: string;
  subStage?: string;
  count?: Int64;
}
export interface StageSummaryResponse {
  dimension?: Dimension;
  counts?: StageCount[];
  total?: Int64;
  asOf?: Timestamp;
}
/** One event of the timeline: `event` holds exactly one payload key. */
export interface EventJson {
  eventId?: string;
  customerId?: string;
  occurredAt?: Timestamp;
  recordedAt?: Timestamp;
  source?: string;
  actorId?: string;
  [payload: string]: unknown;
}
export interface TimelineEntry {
  position?: Position;
  event?: EventJson;
}
export interface TimelineResponse {
  entries?: TimelineEntry[];
  nextPageToken?: string;
}

// value.proto
export interface Rfm {
  recencyDays?: Int64;
  frequency?: Int64;
  monetary?: Money;
  rScore?: number;
  fScore?: number;
  mScore?: number;
}
export interface Clv {
  historical?: Money;
  predicted?: Money;
  pAlive?: number;
  expectedPurchases?: number;
  expectedMargin?: number;
  horizonMonths?: number;
  modelFitted?: boolean;
}
export interface ValueView {
  customerId?: string;
  asOf?: Timestamp;
  rfm?: Rfm;
  segment?: string;
  abcClass?: string;
  tier?: string;
  margin?: Money;
  revenue?: Money;
  costToServe?: Money;
  netContribution?: Money;
  negativeAsset?: boolean;
  loyalty?: string;
  clv?: Clv;
  weightedPipeline?: Money;
  referredMargin?: Money;
  marginRank?: Int64;
  population?: Int64;
  region?: string;
  industry?: string;
  ownerId?: string;
  name?: string;
  kind?: string;
}
export interface ValueFilter {
  tier?: string;
  segment?: string;
  abcClass?: string;
  negativeAssetOnly?: boolean;
  region?: string;
  industry?: string;
  ownerId?: string;
  vipOnly?: boolean;
}
export interface ValueSummary {
  customerId?: string;
  name?: string;
  tier?: string;
  segment?: string;
  abcClass?: string;
  negativeAsset?: boolean;
  margin?: Money;
  revenue?: Money;
  region?: string;
  industry?: string;
  ownerId?: string;
}
export interface ListValueCustomersResponse {
  customers?: ValueSummary[];
  nextPageToken?: string;
  asOf?: Timestamp;
}
export interface TierCount {
  dimensionValue?: string;
  tier?: string;
  count?: Int64;
  margin?: Money;
  revenue?: Money;
  negativeAssets?: Int64;
}
export interface TierSummaryResponse {
  dimension?: Dimension;
  asOf?: Timestamp;
  counts?: TierCount[];
  total?: Int64;
}
export interface ParetoSlice {
  dimensionValue?: string;
  customers?: Int64;
  revenue?: Money;
  top20Revenue?: Money;
  top20SharePermille?: Int64;
  aCustomers?: Int64;
  bCustomers?: Int64;
  cCustomers?: Int64;
  aRevenue?: Money;
  bRevenue?: Money;
  cRevenue?: Money;
}
export interface ParetoResponse {
  dimension?: Dimension;
  asOf?: Timestamp;
  slices?: ParetoSlice[];
}
export interface ClvModel {
  fittedAsOf?: Timestamp;
  customers?: Int64;
  repeatBuyers?: Int64;
  r?: number;
  alpha?: number;
  a?: number;
  b?: number;
  p?: number;
  q?: number;
  v?: number;
  bgConverged?: boolean;
  ggConverged?: boolean;
  bgLogLikelihood?: number;
  ggLogLikelihood?: number;
}

// admin.proto
export interface PartitionStatus {
  partition?: number;
  logStart?: Int64;
  logEnd?: Int64;
  appliedOffset?: Int64;
  lag?: Int64;
  owner?: string;
  owned?: boolean;
  restoring?: boolean;
  restoreTarget?: Int64;
}
export interface TopicStatus {
  topic?: string;
  partitions?: PartitionStatus[];
}
export interface ReasonCount {
  reason?: string;
  count?: Int64;
}
export interface ProjectionStatus {
  name?: string;
  topic?: string;
  partitions?: PartitionStatus[];
  eventsApplied?: Int64;
  noops?: Int64;
  noopsByReason?: ReasonCount[];
  deadLetters?: Int64;
  changesEmitted?: Int64;
  outboxPending?: Int64;
  parkedCustomers?: Int64;
  parkedEvents?: Int64;
  replayed?: Int64;
}
export interface StatusResponse {
  mode?: string;
  version?: string;
  topics?: TopicStatus[];
  projections?: ProjectionStatus[];
  deadLetters?: Int64;
}

// GET /v1/whoami
export interface WhoAmI {
  subject?: string;
  roles?: string[];
  /** Absent = every region. */
  regions?: string[];
  auth?: boolean;
  /** Optional: the server's clock (it may run on a fixed clock). */
  now?: Timestamp;
  /** Optional: the reporting time zone (domain.time_zone). */
  timeZone?: string;
}
