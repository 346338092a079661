import FibCore
import NIOCore

/// The last handler of a worker's channel: hands the pool what one process says and when its
/// channel ends. Every event names the pid, so that news from a replaced process is recognised.
final class WorkerChannelHandler: ChannelInboundHandler {
    typealias InboundIn = WorkerReport

    private let pool: WorkerPool
    private let slot: WorkerID
    private let pid: Int32

    init(pool: WorkerPool, slot: WorkerID, pid: Int32) {
        self.pool = pool
        self.slot = slot
        self.pid = pid
    }

    func handlerAdded(context: ChannelHandlerContext) {
        pool.channelAttached(context.channel, slot: slot, pid: pid)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pool.received(unwrapInboundIn(data), slot: slot, pid: pid)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        pool.readComplete(slot: slot, pid: pid)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        pool.channelFailed(error, slot: slot, pid: pid)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        pool.channelClosed(slot: slot, pid: pid)
    }
}
