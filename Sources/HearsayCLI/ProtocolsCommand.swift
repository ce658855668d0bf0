import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import HearsayModel
import Realms

/// `hearsay protocols`: the realm -> protocol database this node uses to open sessions.
struct ProtocolsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "protocols", abstract: "List the realms this node can talk to and the protocol of each.")

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() throws {
        let all = ProtocolDatabase([.native, .linkLocalXMPP]).all  // what a node with chat and mDNS speaks
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            print(String(decoding: (try? e.encode(all)) ?? Data(), as: UTF8.self))
            return
        }
        print(column("REALM", 10) + column("PROTOCOL", 12) + column("TRANSPORT", 14) + column("PORT", 6)
              + column("ADAPTER", 15) + "SECURITY / DISCOVERY")
        for p in all {
            print(column(p.realm, 10) + column("\(p.protocolName)/\(p.version)", 12) + column(p.transport, 14)
                  + column(String(p.defaultPort), 6) + column(p.adapter, 15) + p.security + "; " + p.discovery)
        }
    }
}
