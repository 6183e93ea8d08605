// The small XML reader behind the EC2 and STS clients: AWS's shapes, entities, CDATA,
// namespaces, and refusal of what a hostile or broken endpoint could send. (Pure code; it
// sits with the AWS tests because it is the AWS adapter's.)
import {expect} from 'chai'

import {parseQueryError} from '../../src/clouds/aws/query-client.js'
import {XmlParseError, items, parseXml, textAt} from '../../src/clouds/aws/xml.js'

describe('AWS XML reader', function () {
  it('reads the EC2 list shape, entities, CDATA and prefixed names', function () {
    const root = parseXml(`<?xml version="1.0" encoding="UTF-8"?>
<!-- comment -->
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/" xmlns:x="urn:x">
  <requestId>r-1</requestId>
  <reservationSet><item><instancesSet>
    <item><instanceId>i-1</instanceId><tagSet><item><key>a&amp;b</key><value>&lt;v&#x41;&#66;&gt;</value></item></tagSet></item>
    <item><instanceId><![CDATA[i-<2>]]></instanceId><x:extra attr="q&quot;"/></item>
  </instancesSet></item></reservationSet>
</DescribeInstancesResponse>`)
    expect(root.name).to.equal('DescribeInstancesResponse')
    const instances = items(items(root, 'reservationSet')[0], 'instancesSet')
    expect(instances.map((i) => textAt(i, 'instanceId'))).to.deep.equal(['i-1', 'i-<2>'])
    expect(textAt(items(instances[0], 'tagSet')[0], 'key')).to.equal('a&b')
    expect(textAt(items(instances[0], 'tagSet')[0], 'value')).to.equal('<vAB>')
    expect(instances[1].children.find((c) => c.name === 'extra')!.attributes.attr).to.equal('q"')
  })

  it('refuses DTDs, unknown entities, mismatched tags, junk and deep nesting', function () {
    const bad = [
      '<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
      '<x>&nbsp;</x>',
      '<x><y></x></y>',
      '<x>a & b</x>',
      'text<x/>',
      '<x/><y/>',
      '<x>',
      '',
      `${'<a>'.repeat(100)}${'</a>'.repeat(100)}`,
    ]
    for (const doc of bad) expect(() => parseXml(doc), doc.slice(0, 40)).to.throw(XmlParseError)
  })

  it('turns EC2 and STS error documents, and non-XML failures, into codes', function () {
    const ec2 = parseQueryError(
      503,
      '<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>abc</RequestID></Response>',
    )
    expect(ec2).to.include({status: 503, code: 'RequestLimitExceeded', awsMessage: 'Request limit exceeded.', requestId: 'abc'})
    const sts = parseQueryError(
      403,
      '<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>no</Message></Error><RequestId>def</RequestId></ErrorResponse>',
    )
    expect(sts).to.include({code: 'AccessDenied', requestId: 'def'})
    expect(parseQueryError(502, '<html>Bad Gateway</html>')).to.include({code: 'HTTP502'})
    expect(parseQueryError(500, 'not xml at all')).to.include({code: 'HTTP500'})
  })
})
