import { MEDIA_READ } from '@camd/core';
import { DEFAULT_TERMINATION_MS, MAX_PULL_TIMEOUT_MS, MAX_TERMINATION_MS, parseTermination, SIGNAL_LOSS_TOPIC, type Notification } from './events.js';
import { fault, text, type Op, type OpContext } from './operations.js';
import { require as requirePermission } from './security.js';
import { SoapFault, xmlEscape } from './soap.js';

/** The event service (`/onvif/event_service`) and its pull points' subscription managers. */
export const EVENT_SERVICE_PATH = '/onvif/event_service';
const CONCRETE_SET = 'http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet';

export function eventServiceCapabilities(o: OpContext): string {
  return `<tev:Capabilities WSSubscriptionPolicySupport="false" WSPullPointSupport="true" WSPausableSubscriptionManagerInterfaceSupport="false" MaxNotificationProducers="0" MaxPullPoints="${o.events.maxPullPoints}" PersistentNotificationStorage="false"/>`;
}

const times = (expiresAt: number) =>
  `<wsnt:CurrentTime>${new Date().toISOString()}</wsnt:CurrentTime><wsnt:TerminationTime>${new Date(expiresAt).toISOString()}</wsnt:TerminationTime>`;

/** A requested termination (duration or time), within 1 s … 1 h. */
function termination(_o: OpContext, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  const ms = parseTermination(text(value));
  if (ms === undefined || ms <= 0)
    throw new SoapFault(
      400,
      'env:Sender',
      'wsnt:UnacceptableInitialTerminationTimeFault',
      `termination time "${String(text(value)).slice(0, 40)}" is not a future time or a positive duration`,
    );
  return Math.min(Math.max(ms, 1000), MAX_TERMINATION_MS);
}

export const EVENT_OPS: Record<string, Op> = {
  GetServiceCapabilities: (o) => `<tev:GetServiceCapabilitiesResponse>${eventServiceCapabilities(o)}</tev:GetServiceCapabilitiesResponse>`,

  GetEventProperties: (o) => {
    requirePermission(o.caller!, MEDIA_READ);
    return (
      '<tev:GetEventPropertiesResponse><tev:TopicNamespaceLocation>http://www.onvif.org/onvif/ver10/topics/topicns.xml</tev:TopicNamespaceLocation>' +
      '<wsnt:FixedTopicSet>true</wsnt:FixedTopicSet><wstop:TopicSet><tns1:VideoSource><SignalLoss wstop:topic="true"><tt:MessageDescription IsProperty="true">' +
      '<tt:Source><tt:SimpleItemDescription Name="Source" Type="tt:ReferenceToken"/></tt:Source><tt:Data><tt:SimpleItemDescription Name="State" Type="xs:boolean"/></tt:Data>' +
      '</tt:MessageDescription></SignalLoss></tns1:VideoSource></wstop:TopicSet>' +
      `<wsnt:TopicExpressionDialect>${CONCRETE_SET}</wsnt:TopicExpressionDialect><wsnt:TopicExpressionDialect>http://docs.oasis-open.org/wsn/t-1/TopicExpression/Concrete</wsnt:TopicExpressionDialect>` +
      '<tev:MessageContentFilterDialect>http://www.onvif.org/ver10/tev/messageContentFilter/ItemFilter</tev:MessageContentFilterDialect>' +
      '<tev:MessageContentSchemaLocation>http://www.onvif.org/onvif/ver10/schema/onvif.xsd</tev:MessageContentSchemaLocation></tev:GetEventPropertiesResponse>'
    );
  },

  CreatePullPointSubscription: (o) => {
    requirePermission(o.caller!, MEDIA_READ);
    const ms = termination(o, o.params.InitialTerminationTime, DEFAULT_TERMINATION_MS);
    const p = o.events.create(o.caller!.username, ms);
    if (!p) throw new SoapFault(503, 'env:Receiver', 'ter:Action/ter:MaxPullPoints', `at most ${o.events.maxPullPoints} pull points at a time`);
    o.ctx.logger.info({ user: o.caller!.username, subscription: p.id }, 'onvif: pull point created');
    return `<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference><wsa:Address>${xmlEscape(o.origin)}${EVENT_SERVICE_PATH}/subscription/${p.id}</wsa:Address></tev:SubscriptionReference>${times(p.expiresAt)}</tev:CreatePullPointSubscriptionResponse>`;
  },
};

/** The caller's own pull point named by the address (others' are unknown to it, as if absent). */
function pullPoint(o: OpContext) {
  requirePermission(o.caller!, MEDIA_READ);
  const p = o.subscription ? o.events.get(o.subscription) : undefined;
  if (!p || p.owner !== o.caller!.username)
    throw new SoapFault(400, 'env:Sender', 'ter:InvalidArgVal/ter:ResourceUnknown', 'no such subscription (it may have expired)');
  return p;
}

export const SUBSCRIPTION_OPS: Record<string, Op> = {
  PullMessages: async (o) => {
    const p = pullPoint(o);
    const timeout = parseTermination(text(o.params.Timeout)) ?? 0;
    const limit = Number(text(o.params.MessageLimit) ?? '1');
    if (!Number.isInteger(limit) || limit < 1) throw fault.invalidArg('ter:MessageLimit', 'MessageLimit must be a positive integer');
    const messages = await o.events.pull(p, Math.min(Math.max(timeout, 0), MAX_PULL_TIMEOUT_MS), Math.min(limit, 1000));
    return `<tev:PullMessagesResponse><tev:CurrentTime>${new Date().toISOString()}</tev:CurrentTime><tev:TerminationTime>${new Date(p.expiresAt).toISOString()}</tev:TerminationTime>${messages.map(notificationXml).join('')}</tev:PullMessagesResponse>`;
  },
  Renew: (o) => {
    const p = pullPoint(o);
    o.events.renew(p, termination(o, o.params.TerminationTime, DEFAULT_TERMINATION_MS));
    return `<wsnt:RenewResponse>${times(p.expiresAt)}</wsnt:RenewResponse>`;
  },
  Unsubscribe: (o) => {
    o.events.unsubscribe(pullPoint(o));
    return '<wsnt:UnsubscribeResponse/>';
  },
  SetSynchronizationPoint: (o) => {
    o.events.synchronize(pullPoint(o));
    return '<tev:SetSynchronizationPointResponse/>';
  },
};

function notificationXml(n: Notification): string {
  const items = (tag: string, kv: Record<string, string>) =>
    `<tt:${tag}>${Object.entries(kv)
      .map(([k, v]) => `<tt:SimpleItem Name="${xmlEscape(k)}" Value="${xmlEscape(v)}"/>`)
      .join('')}</tt:${tag}>`;
  return (
    `<wsnt:NotificationMessage><wsnt:Topic Dialect="${CONCRETE_SET}">${n.topic === SIGNAL_LOSS_TOPIC ? SIGNAL_LOSS_TOPIC : xmlEscape(n.topic)}</wsnt:Topic>` +
    `<wsnt:Message><tt:Message UtcTime="${n.utc.toISOString()}" PropertyOperation="${n.operation}">${items('Source', n.source)}${items('Data', n.data)}</tt:Message></wsnt:Message></wsnt:NotificationMessage>`
  );
}
