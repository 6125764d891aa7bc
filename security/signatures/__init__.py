"""Package signatures: XML-DSig on edXML, JWS on the JSON form, certificates, policy.

    algorithms.py  the algorithm names of the directory and their XML-DSig URIs / JWS "alg"
    refusals.py    every refusal code with its English and Vietnamese sentence
    pki.py         the trust store: anchors, chain building, validity, key usage, CRLs
    policy.py      the policy of a connected system, and whether a signer belongs to it
    xmldsig.py     the one XML-DSig profile the hub accepts, checked, then verified (xmlsec)
    jws.py         the JWS on the JSON form: detached, over RFC 8785 canonical JSON (joserfc)
    verdict.py     what was found: signed or not, by whom, with what
    verifier.py    the one entry point: bytes + policy -> verdict, or a SignatureRefused
"""
